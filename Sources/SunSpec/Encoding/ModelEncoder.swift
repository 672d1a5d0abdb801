/// Lays out a model's raw values as registers, the reverse of `ModelDecoder`.
public enum ModelEncoder {
    /// The registers of a model instance from its ID register on: `values` maps point names to raw
    /// values and group names to an object (single group) or an array of objects (repeating group).
    /// Points that are absent are not implemented. L is computed from the layout; `length`, when
    /// given, pads (or cuts) the body to that L.
    public static func encode(
        _ definition: ModelDefinition, values: [String: RawValue], length: Int? = nil
    ) throws(EncodingError) -> [UInt16] {
        var out: [UInt16] = []
        try encodeGroup(definition.group, values, path: "model \(definition.id)", topLevel: true, into: &out)
        out[0] = UInt16(definition.id)
        let natural = out.count - 2
        let l = length ?? natural
        if out.count < l + 2 {
            out += [UInt16](repeating: 0, count: l + 2 - out.count)
        } else if out.count > l + 2 {
            out.removeLast(out.count - (l + 2))
        }
        out[1] = UInt16(clamping: l)
        return out
    }

    private static func encodeGroup(
        _ group: GroupDefinition, _ values: [String: RawValue], path: String, topLevel: Bool, into out: inout [UInt16]
    ) throws(EncodingError) {
        for point in group.points {
            let value = values[point.name] ?? .null
            do {
                out += try PointEncoding.encode(value, as: point)
            } catch {
                throw EncodingError("\(path): \(error.message)")
            }
        }
        for sub in group.groups {
            let here = "\(path).\(sub.name)"
            switch values[sub.name] {
            case nil, .null?:
                if !sub.isRepeating { try encodeGroup(sub, [:], path: here, topLevel: false, into: &out) }
            case .object(let dict)?:
                try encodeGroup(sub, dict, path: here, topLevel: false, into: &out)
            case .array(let items)?:
                for (i, item) in items.enumerated() {
                    guard case .object(let dict) = item else {
                        throw EncodingError("\(here)[\(i)]: expected an object of points")
                    }
                    try encodeGroup(sub, dict, path: "\(here)[\(i)]", topLevel: false, into: &out)
                }
            case let other?:
                throw EncodingError("\(here): expected a group, found \(other)")
            }
        }
    }
}
