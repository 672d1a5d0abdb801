import Foundation
import Yams

/// What a reader of one YAML file's schema (the configuration, a profile) shares: every mistake is
/// a `YAMLFileError` naming the file, the line of the node and its key path. Conformers give the
/// file and read their own keys with these primitives.
public protocol YAMLReader {
    /// The file being read, for errors.
    var file: String { get }
}

extension YAMLReader {
    /// The error for a mistake at `node` (its line, when known) and key path `path`.
    public func fail(_ node: Node?, _ path: String, _ message: String) -> YAMLFileError {
        YAMLFileError(file: file, line: node?.mark?.line, path: path, message: message)
    }

    /// The entries of a mapping; with `allowed`, any other key is refused. A key given twice is
    /// refused too (Yams refuses identical keys, this catches `1` and `"1"` and the like).
    public func mapping(_ node: Node, _ path: String, allowed: Set<String>?) throws(YAMLFileError) -> YAMLMapping {
        guard let mapping = node.mapping else { throw fail(node, path, "expected a mapping") }
        var index: [String: Int] = [:]
        var entries: [YAMLMapping.Entry] = []
        for (key, value) in mapping {
            guard let name = key.string else { throw fail(key, path, "keys must be strings or numbers") }
            let here = path.isEmpty ? name : "\(path).\(name)"
            if let allowed, !allowed.contains(name) {
                throw fail(key, here, "unknown key (known: \(allowed.sorted().joined(separator: ", ")))")
            }
            guard index[name] == nil else { throw fail(key, here, "given twice") }
            index[name] = entries.count
            entries.append((name, key, value))
        }
        return YAMLMapping(entries: entries, index: index)
    }

    /// The value of `key` in a mapping (for the line of a mistake), or the mapping itself.
    public func value(of key: String, in node: Node) -> Node {
        node.mapping?.first { $0.key.string == key }?.value ?? node
    }

    /// A non-empty scalar that is not null; a name, path or host with a NUL or an escape sequence in
    /// it is a mistake (and would garble logs), so control characters are refused.
    public func string(_ node: Node, _ path: String) throws(YAMLFileError) -> String {
        let s = try text(node, path)
        guard !s.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw fail(node, path, "contains a control character")
        }
        return s
    }

    /// Free text (notes): like `string`, but tabs and line breaks are kept.
    public func text(_ node: Node, _ path: String) throws(YAMLFileError) -> String {
        guard node.null == nil, let s = node.scalar?.string, !s.isEmpty else { throw fail(node, path, "expected a string") }
        guard !s.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && !"\t\n".unicodeScalars.contains($0) })
        else {
            throw fail(node, path, "contains a control character")
        }
        return s
    }

    /// An integer (decimal, `0x`, `0b`, `_` between digits) within `range`.
    public func integer<T: FixedWidthInteger>(_ node: Node, _ path: String, _ range: ClosedRange<T>) throws(YAMLFileError) -> T {
        guard let text = node.scalar?.string, let n = Self.parseInteger(text) else { throw fail(node, path, "expected an integer") }
        guard let value = T(exactly: n), range.contains(value) else {
            throw fail(node, path, "\(n) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// A finite number, integer or decimal.
    public func number(_ node: Node, _ path: String) throws(YAMLFileError) -> Double {
        guard let text = node.scalar?.string else { throw fail(node, path, "expected a number") }
        if let n = Self.parseInteger(text) { return Double(n) }
        guard let d = Double(text), d.isFinite else { throw fail(node, path, "expected a number") }
        return d
    }

    /// `true` or `false`.
    public func bool(_ node: Node, _ path: String) throws(YAMLFileError) -> Bool {
        guard let text = node.scalar?.string, text == "true" || text == "false" else {
            throw fail(node, path, "expected true or false")
        }
        return text == "true"
    }

    /// An integer's text: decimal, `0x`/`-0x` hexadecimal, `0b` binary, `_` between digits.
    public static func parseInteger(_ text: String) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
        if t.hasPrefix("0x") || t.hasPrefix("0X") { return Int64(t.dropFirst(2), radix: 16) }
        if t.hasPrefix("-0x") { return Int64(t.dropFirst(3), radix: 16).map { -$0 } }
        if t.hasPrefix("0b") { return Int64(t.dropFirst(2), radix: 2) }
        return Int64(t)
    }
}
