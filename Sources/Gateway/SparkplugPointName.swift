import SunSpec

/// The point a Sparkplug metric name names: the inverse of `SparkplugMetrics`' names.
/// `{model}/{index}/{point}` is `PointPath(model, instance: index, point)`; each group on the way is a
/// level of its own, `{group}[{j}]` for a repeat of a repeating group, `{group}` for a single one
/// (repeat 0). The instance and the repeats count from 0, as in the names and in `PointPath`.
enum SparkplugPointName {
    /// The point of a DBIRTH metric name, or why the name is not one.
    static func path(_ name: String) throws(ControlPathError) -> PointPath {
        let levels = name.split(separator: "/", omittingEmptySubsequences: false)
        guard levels.count >= 3 else {
            throw ControlPathError("'\(name)' is not a point's metric name ({model}/{index}/{point}, 124/0/WChaMax)")
        }
        guard let model = number(levels[0]), (1...65534).contains(model) else {
            throw ControlPathError("'\(name)': '\(levels[0])' is not a model id (1...65534)")
        }
        guard let instance = number(levels[1]), instance <= PointPath.largestIndex else {
            throw ControlPathError("'\(name)': '\(levels[1])' is not a model instance (0...\(PointPath.largestIndex))")
        }
        var groups: [PointPath.GroupStep] = []
        for level in levels.dropFirst(2).dropLast() {
            groups.append(try step(level, in: name))
        }
        let point = levels[levels.count - 1]
        guard isName(point) else { throw ControlPathError("'\(name)': '\(point)' is not a SunSpec point name (letters, digits, _)") }
        return PointPath(model: model, instance: instance, groups: groups, point: String(point))
    }

    /// `string[3]` or `string`: a group and its repeat.
    private static func step(_ level: Substring, in name: String) throws(ControlPathError) -> PointPath.GroupStep {
        var group = level
        var repeatIndex = 0
        if let open = level.firstIndex(of: "[") {
            guard level.last == "]", let j = number(level[level.index(after: open)..<level.index(before: level.endIndex)]),
                j <= PointPath.largestIndex
            else {
                throw ControlPathError("'\(name)': '\(level)' is not GROUP[j] (j from 0 to \(PointPath.largestIndex))")
            }
            group = level[..<open]
            repeatIndex = j
        }
        guard isName(group) else { throw ControlPathError("'\(name)': '\(group)' is not a SunSpec group name (letters, digits, _)") }
        return PointPath.GroupStep(name: String(group), index: repeatIndex)
    }

    /// A count as the names write it: decimal digits, no sign, no leading zero (at most 5 digits).
    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy(isDigit), text == "0" || text.first != "0" else { return nil }
        return Int(text)
    }

    private static func isDigit(_ c: Character) -> Bool { c.isASCII && c.isNumber }

    private static func isName(_ text: Substring) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }
}
