import CYaml

/// The size of a YAML document with its aliases expanded, counted over libyaml's events before the
/// document is composed. Yams shares an aliased node rather than copying it, but hashes mapping
/// keys to find duplicates, and hashing walks the whole expansion: an alias bomb as a key (ten
/// aliases of ten aliases, nine deep) kept a core busy for hours. Past `limit` nodes the file is
/// refused instead.
public enum YAMLAliasBudget {
    /// The most nodes a config or a profile may expand to (the largest shipped profile has a few thousand).
    public static let limit = 1_000_000

    /// The 1-based line where the expansion passes `limit`, or nil when it stays within it (or the
    /// text is not YAML: composing it then says why).
    public static func exceeded(_ yaml: String, limit: Int = limit) -> Int? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(yaml.utf8)
        return bytes.withUnsafeBufferPointer { buffer -> Int? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var anchors: [String: Int] = [:]
            // The nodes counted so far in each open collection, and its anchor.
            var open: [(count: Int, anchor: String?)] = [(0, nil)]
            func name(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? { p.map { String(cString: $0) } }
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
                defer { yaml_event_delete(&event) }
                var size: Int?
                var anchor: String?
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return nil
                case YAML_SCALAR_EVENT:
                    size = 1
                    anchor = name(event.data.scalar.anchor)
                case YAML_ALIAS_EVENT:
                    size = name(event.data.alias.anchor).flatMap { anchors[$0] } ?? 1
                case YAML_SEQUENCE_START_EVENT:
                    open.append((1, name(event.data.sequence_start.anchor)))
                case YAML_MAPPING_START_EVENT:
                    open.append((1, name(event.data.mapping_start.anchor)))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    if open.count > 1 {
                        let closed = open.removeLast()
                        size = closed.count
                        anchor = closed.anchor
                    }
                default:
                    break
                }
                guard let size else { continue }
                if let anchor { anchors[anchor] = size }
                // Sizes stay at most `limit` each, so the sum cannot overflow.
                open[open.count - 1].count += size
                if open[open.count - 1].count > limit { return Int(event.start_mark.line) + 1 }
            }
        }
    }
}
