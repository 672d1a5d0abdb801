/// Writes `meta` records: what a model's points are, for consumers that show or store them.
///
/// `{"type":"meta","device":..,"model":802,"name":"battery","index":0,"addr":..,"label":..,"points":{...}}`
/// where `points` is nested like a reading's `values` (a group, repeating or not, as one object of its
/// points) and each point is `{"type":..,"units":..,"access":..,"label":..,"symbols":{"1":"OFF"}}`.
public enum MetaRecord {
    /// Appends one `meta` line for a model instance (nothing for a model with no definition).
    public static func append(_ instance: ModelInstance, device: String, to out: inout JSONBuffer) {
        guard let definition = instance.model.definition else { return }
        out.raw("{\"type\":\"meta\",\"device\":")
        out.string(device)
        out.raw(",\"model\":")
        out.int(Int64(definition.id))
        out.raw(",\"name\":")
        out.string(definition.name)
        out.raw(",\"index\":")
        out.int(Int64(instance.index))
        out.raw(",\"addr\":")
        out.int(Int64(instance.address))
        out.raw(",\"label\":")
        if let label = definition.label { out.string(label) } else { out.raw("null") }
        out.raw(",\"points\":")
        appendGroup(definition.group, topLevel: true, to: &out)
        out.raw("}\n")
    }

    static func appendGroup(_ group: GroupDefinition, topLevel: Bool, to out: inout JSONBuffer) {
        out.byte(UInt8(ascii: "{"))
        var first = true
        for (i, point) in group.points.enumerated() where point.isPublished {
            if topLevel && i < 2 && (point.name == "ID" || point.name == "L") { continue }
            if !first { out.byte(UInt8(ascii: ",")) }
            first = false
            out.key(point.name)
            out.raw("{\"type\":")
            out.string(point.type.rawValue)
            out.raw(",\"units\":")
            if let units = point.units { out.string(units) } else { out.raw("null") }
            out.raw(",\"access\":")
            out.string(point.access.rawValue)
            out.raw(",\"label\":")
            if let label = point.label { out.string(label) } else { out.raw("null") }
            if !point.symbols.isEmpty {
                out.raw(",\"symbols\":{")
                for (k, symbol) in point.symbols.enumerated() {
                    if k > 0 { out.byte(UInt8(ascii: ",")) }
                    out.key(String(symbol.value))
                    out.string(symbol.name)
                }
                out.byte(UInt8(ascii: "}"))
            }
            out.byte(UInt8(ascii: "}"))
        }
        for sub in group.groups {
            if !first { out.byte(UInt8(ascii: ",")) }
            first = false
            out.key(sub.name)
            appendGroup(sub, topLevel: false, to: &out)
        }
        out.byte(UInt8(ascii: "}"))
    }
}
