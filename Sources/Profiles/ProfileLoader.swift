import Foundation
import ModbusCore
import SunSpec
import YAMLFiles
import Yams

/// A profile mistake: file, line and key path, and what is wrong (exit status 78).
public typealias ProfileError = YAMLFileError

extension Profile {
    /// Reads and checks a profile file.
    public static func load(path: String, catalog: ModelCatalog = .builtin) throws(ProfileError) -> Profile {
        try parse(try YAMLFile.text(atPath: path), file: path, catalog: catalog)
    }

    /// Parses and checks profile YAML against the model definitions.
    public static func parse(_ yaml: String, file: String, catalog: ModelCatalog = .builtin) throws(ProfileError) -> Profile {
        var reader = ProfileReader(file: file, catalog: catalog)
        return try reader.profile(try YAMLFile.root(of: yaml, file: file))
    }
}

/// Reads a profile's schema; the YAML primitives come from `YAMLReader`.
struct ProfileReader: YAMLReader {
    let file: String
    let catalog: ModelCatalog
    var defaults = ProfileDefaults()
    /// Every register range read, for the overlap check.
    var ranges: [(function: RegisterKind, range: Range<Int>, type: VendorType, path: String, node: Node)] = []

    init(file: String, catalog: ModelCatalog) {
        self.file = file
        self.catalog = catalog
    }

    // MARK: - The profile

    mutating func profile(_ root: Node) throws(ProfileError) -> Profile {
        let top = try mapping(root, "", allowed: ["profile", "vendor", "product", "source", "notes", "defaults", "identity", "models"])
        func required(_ key: String) throws(ProfileError) -> Node {
            guard let node = top[key] else { throw fail(root, key, "missing") }
            return node
        }
        let name = try string(try required("profile"), "profile")
        guard name.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw fail(try required("profile"), "profile", "'\(name)' should be lowercase letters, digits and '-'")
        }
        let vendor = try string(try required("vendor"), "vendor")
        let product = try string(try required("product"), "product")
        let source = try string(try required("source"), "source")
        let notes = try top["notes"].map { (n) throws(ProfileError) in try text(n, "notes") }
        if let d = top["defaults"] { defaults = try readDefaults(d) }
        var identity: [String: String] = [:]
        if let node = top["identity"] {
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
            case "unit": d.unit = try integer(value, path, 0...255)
            case "function": d.function = try function(value, path)
            case "word_order": d.wordOrder = try wordOrder(value, path)
            case "max_registers": d.maxRegisters = try integer(value, path, 1...125)
            case "max_gap": d.maxGap = try integer(value, path, 0...125)
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
                                ? try integer(v, "\(here).doc", 1...65536) - 1 : try integer(v, "\(here).start", 0...65535)
                        case "count": count = try integer(v, "\(here).count", 1...125)
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

    func function(_ node: Node, _ path: String) throws(ProfileError) -> RegisterKind {
        let text = try string(node, path)
        guard let f = RegisterKind(rawValue: text) else { throw fail(node, path, "'\(text)' is not holding or input") }
        return f
    }

    func wordOrder(_ node: Node, _ path: String) throws(ProfileError) -> WordOrder {
        let text = try string(node, path)
        guard let w = WordOrder(rawValue: text) else { throw fail(node, path, "'\(text)' is not high_first or low_first") }
        return w
    }
}
