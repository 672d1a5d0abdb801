/// A point named for control: `124.WChaMax` (the first instance of model 124), `124[1].WChaMax`
/// (instance 1, 0-based, the `index` of reading records), `803.string[1].StrSetEna` (repeat 1 of
/// group `string`, 0-based); nested groups are steps one after the other.
public struct PointPath: Sendable, Hashable, CustomStringConvertible {
    /// One group on the way to the point: its name and which repeat (0 for a group that does not repeat).
    public struct GroupStep: Sendable, Hashable {
        /// SunSpec's group name (`string`, `lithium_ion_string_module`).
        public let name: String
        /// The repeat, 0-based.
        public let index: Int

        /// Creates a step.
        public init(name: String, index: Int) {
            self.name = name
            self.index = index
        }
    }

    /// The model id.
    public let model: Int
    /// Which instance of the model on the device, 0-based (0 when not given).
    public let instance: Int
    /// The groups from the model's top level to the point's group, outermost first.
    public let groups: [GroupStep]
    /// SunSpec's point name.
    public let point: String

    /// The largest index a path may give (a model instance or a group repeat).
    public static let largestIndex = 65535

    /// Creates a path.
    public init(model: Int, instance: Int = 0, groups: [GroupStep] = [], point: String) {
        self.model = model
        self.instance = instance
        self.groups = groups
        self.point = point
    }

    /// Parses `MODEL[i].GROUP[j]...POINT`; an index left out is 0.
    public init(parsing text: String) throws(ControlPathError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2 else { throw ControlPathError("'\(text)' is not MODEL.POINT (124.WChaMax, 803.string[1].StrSetEna)") }
        let (modelText, instance) = try Self.indexed(parts[0], in: text)
        guard modelText.allSatisfy(\.isASCIIDigit), let model = Int(modelText), (1...65534).contains(model) else {
            throw ControlPathError("'\(text)': '\(modelText)' is not a model id (1...65534)")
        }
        var groups: [GroupStep] = []
        for part in parts.dropFirst().dropLast() {
            let (name, index) = try Self.indexed(part, in: text)
            try Self.checkName(name, in: text)
            groups.append(GroupStep(name: String(name), index: index))
        }
        let point = parts[parts.count - 1]
        guard !point.contains("[") else { throw ControlPathError("'\(text)': the point '\(point)' cannot take an index") }
        try Self.checkName(point, in: text)
        self.init(model: model, instance: instance, groups: groups, point: String(point))
    }

    /// `124.WChaMax`, `124[1].WChaMax`, `803.string[1].StrSetEna`: indexes of 0 are left out.
    public var description: String {
        var text = instance == 0 ? "\(model)" : "\(model)[\(instance)]"
        for step in groups { text += step.index == 0 ? ".\(step.name)" : ".\(step.name)[\(step.index)]" }
        return text + "." + point
    }

    // MARK: - Parsing

    /// `name[3]` into `name` and 3; `name` alone into `name` and 0.
    private static func indexed(_ part: Substring, in text: String) throws(ControlPathError) -> (Substring, Int) {
        guard let open = part.firstIndex(of: "[") else { return (part, 0) }
        guard part.last == "]" else { throw ControlPathError("'\(text)': '\(part)' is not NAME[INDEX]") }
        let digits = part[part.index(after: open)..<part.index(before: part.endIndex)]
        guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy(\.isASCIIDigit), let index = Int(digits), index <= largestIndex
        else {
            throw ControlPathError("'\(text)': the index in '\(part)' is not an integer from 0 to \(largestIndex)")
        }
        return (part[..<open], index)
    }

    private static func checkName(_ name: Substring, in text: String) throws(ControlPathError) {
        guard !name.isEmpty, name.allSatisfy({ $0.isASCIIDigit || $0.isASCIILetter || $0 == "_" }) else {
            throw ControlPathError("'\(text)': '\(name)' is not a SunSpec name (letters, digits, _)")
        }
    }
}

/// A control path that does not parse, or names nothing in a model: one line saying why.
public struct ControlPathError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public let message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIILetter: Bool { isASCII && isLetter }
}
