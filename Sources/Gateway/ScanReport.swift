import SunSpec

/// How `scan` shows what discovery found.
public enum ScanReport {
    struct Row {
        let header: ModelHeader
        let name: String?
        let repeats: [(String, Int)]
    }

    static func rows(_ map: DiscoveredMap, decoded: DecodedDevice?) -> [Row] {
        map.models.enumerated().map { i, header in
            var repeats: [(String, Int)] = []
            var name: String?
            if let instance = decoded?.models.first(where: { $0.address == header.address }), let definition = instance.model.definition,
                let values = instance.model.values
            {
                name = definition.name
                for (g, group) in definition.group.groups.enumerated() where group.isRepeating {
                    repeats.append((group.name, values.groups[g].count))
                }
            }
            return Row(header: header, name: name, repeats: repeats)
        }
    }

    /// A table of the models.
    public static func text(_ map: DiscoveredMap, decoded: DecodedDevice?, unit: Int, endpoint: String) -> String {
        let registers = map.models.reduce(4) { $0 + $1.length + 2 }
        var lines = [
            "SunSpec map of unit \(unit) at \(endpoint): base \(map.base), \(map.models.count) models, \(registers) registers, \(map.transactions) transactions"
        ]
        lines.append(pad("ID", 7) + pad("NAME", 26) + pad("ADDR", 7) + pad("LEN", 6) + "REPEATS")
        for row in rows(map, decoded: decoded) {
            let repeats = row.repeats.map { "\($0.0) x\($0.1)" }.joined(separator: ", ")
            lines.append(
                pad("\(row.header.id)", 7) + pad(row.name ?? "(no definition)", 26) + pad("\(row.header.address)", 7)
                    + pad("\(row.header.length)", 6) + repeats)
        }
        for note in map.notes { lines.append("note: \(note)") }
        return lines.joined(separator: "\n")
    }

    /// The models as one JSON object.
    public static func json(_ map: DiscoveredMap, decoded: DecodedDevice?, unit: Int, endpoint: String) -> String {
        var out = JSONBuffer()
        out.raw("{\"endpoint\":")
        out.string(endpoint)
        out.raw(",\"unit\":")
        out.int(Int64(unit))
        out.raw(",\"base\":")
        out.int(Int64(map.base))
        out.raw(",\"end_marker\":")
        if map.endMarker { out.raw("true") } else { out.raw("false") }
        out.raw(",\"transactions\":")
        out.int(Int64(map.transactions))
        out.raw(",\"models\":[")
        for (i, row) in rows(map, decoded: decoded).enumerated() {
            if i > 0 { out.byte(UInt8(ascii: ",")) }
            out.raw("{\"id\":")
            out.int(Int64(row.header.id))
            out.raw(",\"name\":")
            if let name = row.name { out.string(name) } else { out.raw("null") }
            out.raw(",\"addr\":")
            out.int(Int64(row.header.address))
            out.raw(",\"len\":")
            out.int(Int64(row.header.length))
            out.raw(",\"repeats\":{")
            for (k, (group, n)) in row.repeats.enumerated() {
                if k > 0 { out.byte(UInt8(ascii: ",")) }
                out.key(group)
                out.int(Int64(n))
            }
            out.raw("}}")
        }
        out.raw("],\"notes\":[")
        for (i, note) in map.notes.enumerated() {
            if i > 0 { out.byte(UInt8(ascii: ",")) }
            out.string(note)
        }
        out.raw("]}")
        return String(decoding: out.bytes, as: UTF8.self)
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
