/// Writes the records every output of the gateway shares: one JSON object per line.
///
/// `reading`: `{"type":"reading","device":..,"ts":..,"model":802,"name":"battery","index":0,"addr":40070,
/// "len":62,"values":{...},"errors":[..]}`; `values` has the shape of pysunspec2's
/// `get_dict(computed=True)` without ID, L, sunssf and pad points.
public enum ReadingRecord {
    /// Appends one `reading` line (with its newline) for a model instance.
    public static func append(
        _ instance: ModelInstance, device: String, timestamp: String?, source: String? = nil, to out: inout JSONBuffer
    ) {
        let model = instance.model
        out.raw("{\"type\":\"reading\",\"device\":")
        out.string(device)
        out.raw(",\"ts\":")
        if let timestamp { out.string(timestamp) } else { out.raw("null") }
        out.raw(",\"model\":")
        out.int(Int64(model.id))
        out.raw(",\"name\":")
        if let name = model.definition?.name { out.string(name) } else { out.raw("null") }
        out.raw(",\"index\":")
        out.int(Int64(instance.index))
        out.raw(",\"addr\":")
        out.int(Int64(instance.address))
        out.raw(",\"len\":")
        out.int(Int64(model.length))
        if let source {
            out.raw(",\"source\":")
            out.string(source)
        }
        out.raw(",\"values\":")
        if let definition = model.definition, let values = model.values {
            model.registers.withUnsafeBufferPointer { registers in
                appendGroup(definition.group, values, model.stored, registers, topLevel: true, to: &out)
            }
        } else {
            out.raw("null")
        }
        if let raw = model.raw {
            out.raw(",\"raw\":[")
            for (i, r) in raw.enumerated() {
                if i > 0 { out.byte(UInt8(ascii: ",")) }
                if let r { out.uint(UInt64(r)) } else { out.raw("null") }
            }
            out.byte(UInt8(ascii: "]"))
        }
        if !model.errors.isEmpty {
            out.raw(",\"errors\":[")
            for (i, e) in model.errors.enumerated() {
                if i > 0 { out.byte(UInt8(ascii: ",")) }
                out.string(e)
            }
            out.byte(UInt8(ascii: "]"))
        }
        out.raw("}\n")
    }

    /// Appends the `values` object of one group instance.
    static func appendGroup(
        _ group: GroupDefinition, _ values: GroupValues, _ points: [StoredValue], _ registers: UnsafeBufferPointer<UInt16>, topLevel: Bool,
        to out: inout JSONBuffer
    ) {
        out.byte(UInt8(ascii: "{"))
        var first = true
        // The model's own ID and L (the first two points of the top level) are left out.
        let from = topLevel ? 2 : 0
        group.slots.withUnsafeBufferPointer { slots in
            group.keyBytes.withUnsafeBufferPointer { keys in
                points.withUnsafeBufferPointer { points in
                    for i in from..<slots.count where slots[i].isPublished {
                        let key = slots[i].keyRange
                        let start = Int(key.lowerBound) + (first ? 1 : 0)  // no comma before the first member
                        out.append(UnsafeBufferPointer(rebasing: keys[start..<Int(key.upperBound)]))
                        first = false
                        out.value(points[values.first + i], registers)
                    }
                }
            }
        }
        for (g, sub) in group.groups.enumerated() {
            if !first { out.byte(UInt8(ascii: ",")) }
            first = false
            out.append(sub.jsonKey)
            let instances = values.groups[g]
            if sub.isRepeating {
                out.byte(UInt8(ascii: "["))
                for (k, instance) in instances.enumerated() {
                    if k > 0 { out.byte(UInt8(ascii: ",")) }
                    appendGroup(sub, instance, points, registers, topLevel: false, to: &out)
                }
                out.byte(UInt8(ascii: "]"))
            } else if let only = instances.first {
                appendGroup(sub, only, points, registers, topLevel: false, to: &out)
            } else {
                out.raw("null")
            }
        }
        out.byte(UInt8(ascii: "}"))
    }
}
