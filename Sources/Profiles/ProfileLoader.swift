import Foundation
import SunSpec
import Yams

/// A profile mistake: file, line and key path, and what is wrong (exit status 78).
public typealias ProfileError = YAMLFileError

/// A mistake in a YAML file (a profile, a configuration): file, line and key path, and what is wrong.
public struct YAMLFileError: Error, Sendable, CustomStringConvertible {
    /// The file.
    public let file: String
    /// 1-based line, when known.
    public let line: Int?
    /// Key path (`models.802.SoC.type`).
    public let path: String
    /// What is wrong.
    public let message: String

    /// Creates an error.
    public init(file: String, line: Int?, path: String, message: String) {
        self.file = file
        self.line = line
        self.path = path
        self.message = message
    }

    /// One line, whatever the file held: control characters (a newline in a key) are escaped and a
    /// key path or message past 200 characters is cut.
    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return path.isEmpty ? "\(place): \(Self.oneLine(message))" : "\(place): \(Self.oneLine(path)): \(Self.oneLine(message))"
    }

    static func oneLine(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(200) {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return text.unicodeScalars.count > 200 ? out + "..." : out
    }
}

extension Profile {
    /// Reads and checks a profile file.
    public static func load(path: String, catalog: ModelCatalog = .builtin) throws(ProfileError) -> Profile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ProfileError(file: path, line: nil, path: "", message: "cannot read the file")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path, catalog: catalog)
    }

    /// Parses and checks profile YAML against the model definitions.
    public static func parse(_ yaml: String, file: String, catalog: ModelCatalog = .builtin) throws(ProfileError) -> Profile {
        if let line = YAMLAliasBudget.exceeded(yaml) {
            throw ProfileError(file: file, line: line, path: "", message: "aliases expand to more than \(YAMLAliasBudget.limit) nodes")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ProfileError.notYAML(error, file: file, text: yaml)
        }
        guard let root else { throw ProfileError(file: file, line: nil, path: "", message: "the file is empty") }
        var reader = ProfileReader(file: file, catalog: catalog)
        return try reader.profile(root)
    }
}

struct ProfileReader {
    let file: String
    let catalog: ModelCatalog
    var defaults = ProfileDefaults()
    /// Every register range read, for the overlap check.
    var ranges: [(function: VendorFunction, range: Range<Int>, type: VendorType, path: String, node: Node)] = []

    init(file: String, catalog: ModelCatalog) {
        self.file = file
        self.catalog = catalog
    }

    func fail(_ node: Node?, _ path: String, _ message: String) -> ProfileError {
        ProfileError(file: file, line: node?.mark?.line, path: path, message: message)
    }

    func mapping(_ node: Node, _ path: String, allowed: Set<String>?) throws(ProfileError) -> [(String, Node, Node)] {
        guard let mapping = node.mapping else { throw fail(node, path, "expected a mapping") }
        var seen = Set<String>()
        var out: [(String, Node, Node)] = []
        for (key, value) in mapping {
            guard let name = key.string else { throw fail(key, path, "keys must be strings or numbers") }
            let here = path.isEmpty ? name : "\(path).\(name)"
            if let allowed, !allowed.contains(name) {
                throw fail(key, here, "unknown key (known: \(allowed.sorted().joined(separator: ", ")))")
            }
            guard seen.insert(name).inserted else { throw fail(key, here, "given twice") }
            out.append((name, key, value))
        }
        return out
    }

    func string(_ node: Node, _ path: String) throws(ProfileError) -> String {
        guard let s = node.scalar?.string, !s.isEmpty else { throw fail(node, path, "expected a string") }
        return s
    }

    func integer(_ node: Node, _ path: String, _ range: ClosedRange<Int64>) throws(ProfileError) -> Int64 {
        guard let text = node.scalar?.string, let n = Self.parseInteger(text) else { throw fail(node, path, "expected an integer") }
        guard range.contains(n) else { throw fail(node, path, "\(n) is outside \(range.lowerBound)...\(range.upperBound)") }
        return n
    }

    func number(_ node: Node, _ path: String) throws(ProfileError) -> Double {
        guard let text = node.scalar?.string else { throw fail(node, path, "expected a number") }
        if let n = Self.parseInteger(text) { return Double(n) }
        guard let d = Double(text), d.isFinite else { throw fail(node, path, "expected a number") }
        return d
    }

    static func parseInteger(_ text: String) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")
        if t.hasPrefix("0x") || t.hasPrefix("0X") { return Int64(t.dropFirst(2), radix: 16) }
        if t.hasPrefix("-0x") { return Int64(t.dropFirst(3), radix: 16).map { -$0 } }
        if t.hasPrefix("0b") { return Int64(t.dropFirst(2), radix: 2) }
        return Int64(t)
    }

    // MARK: - The profile

    mutating func profile(_ root: Node) throws(ProfileError) -> Profile {
        let top = try mapping(root, "", allowed: ["profile", "vendor", "product", "source", "notes", "defaults", "identity", "models"])
        func required(_ key: String) throws(ProfileError) -> Node {
            guard let node = top.first(where: { $0.0 == key })?.2 else { throw fail(root, key, "missing") }
            return node
        }
        let name = try string(try required("profile"), "profile")
        guard name.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw fail(try required("profile"), "profile", "'\(name)' should be lowercase letters, digits and '-'")
        }
        let vendor = try string(try required("vendor"), "vendor")
        let product = try string(try required("product"), "product")
        let source = try string(try required("source"), "source")
        let notes = try top.first(where: { $0.0 == "notes" }).map { (n) throws(ProfileError) in try string(n.2, "notes") }
        if let d = top.first(where: { $0.0 == "defaults" })?.2 { defaults = try readDefaults(d) }
        var identity: [String: String] = [:]
        if let node = top.first(where: { $0.0 == "identity" })?.2 {
            let common = catalog.definition(for: 1)!
            for (key, keyNode, value) in try mapping(node, "identity", allowed: ["Mn", "Md", "Opt", "Vr", "SN"]) {
                let text = try string(value, "identity.\(key)")
                let size = common.group.points.first { $0.name == key }!.size
                guard text.utf8.count <= size * 2 else {
                    throw fail(keyNode, "identity.\(key)", "'\(text)' is longer than the \(size * 2) bytes model 1 holds")
                }
                identity[key] = text
            }
        }
        let modelsNode = try required("models")
        var models: [MappedModel] = []
        for (key, keyNode, value) in try mapping(modelsNode, "models", allowed: nil) {
            guard let id = Int(key) else { throw fail(keyNode, "models.\(key)", "expected a SunSpec model id") }
            guard id != 1 else { throw fail(keyNode, "models.1", "model 1 is built from 'identity'") }
            guard let definition = catalog.definition(for: id) else { throw fail(keyNode, "models.\(key)", "unknown model \(id)") }
            models.append(try model(definition, value, "models.\(key)"))
        }
        guard !models.isEmpty else { throw fail(modelsNode, "models", "map at least one SunSpec model") }
        try checkOverlaps()
        return Profile(
            name: name, vendor: vendor, product: product, source: source, notes: notes, defaults: defaults, identity: identity,
            models: models, file: file)
    }

    func readDefaults(_ node: Node) throws(ProfileError) -> ProfileDefaults {
        var d = ProfileDefaults()
        for (key, _, value) in try mapping(
            node, "defaults", allowed: ["unit", "function", "word_order", "max_registers", "max_gap", "blocks"])
        {
            let path = "defaults.\(key)"
            switch key {
            case "unit": d.unit = Int(try integer(value, path, 0...255))
            case "function": d.function = try function(value, path)
            case "word_order": d.wordOrder = try wordOrder(value, path)
            case "max_registers": d.maxRegisters = Int(try integer(value, path, 1...125))
            case "max_gap": d.maxGap = Int(try integer(value, path, 0...125))
            default:
                guard let list = value.sequence else { throw fail(value, path, "expected a list of {start, count} blocks") }
                for (i, block) in list.enumerated() {
                    let here = "\(path)[\(i)]"
                    var start: Int?
                    var count: Int?
                    var fn = d.function
                    for (k, _, v) in try mapping(block, here, allowed: ["start", "doc", "count", "function"]) {
                        switch k {
                        case "start", "doc":
                            guard start == nil else { throw fail(v, "\(here).\(k)", "give start (0-based) or doc (1-based), not both") }
                            start =
                                k == "doc"
                                ? Int(try integer(v, "\(here).doc", 1...65536)) - 1 : Int(try integer(v, "\(here).start", 0...65535))
                        case "count": count = Int(try integer(v, "\(here).count", 1...125))
                        default: fn = try function(v, "\(here).function")
                        }
                    }
                    guard let start, let count else { throw fail(block, here, "a block needs start (or doc) and count") }
                    guard start + count <= 65536 else {
                        throw fail(block, here, "start \(start) with count \(count) runs past register 65535 (to \(start + count - 1))")
                    }
                    d.blocks.append(ReadBlock(start: start, count: count, function: fn))
                }
            }
        }
        return d
    }

    func function(_ node: Node, _ path: String) throws(ProfileError) -> VendorFunction {
        let text = try string(node, path)
        guard let f = VendorFunction(rawValue: text) else { throw fail(node, path, "'\(text)' is not holding or input") }
        return f
    }

    func wordOrder(_ node: Node, _ path: String) throws(ProfileError) -> WordOrder {
        let text = try string(node, path)
        guard let w = WordOrder(rawValue: text) else { throw fail(node, path, "'\(text)' is not high_first or low_first") }
        return w
    }
}
