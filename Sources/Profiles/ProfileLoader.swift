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

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return path.isEmpty ? "\(place): \(message)" : "\(place): \(path): \(message)"
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
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            var line: Int?
            var problem = "\(error)"
            if case .scanner(_, let p, let mark, _) = error { line = mark.line; problem = p }
            if case .parser(_, let p, let mark, _) = error { line = mark.line; problem = p }
            throw ProfileError(file: file, line: line, path: "", message: "not valid YAML: \(problem)")
        } catch {
            throw ProfileError(file: file, line: nil, path: "", message: "not valid YAML: \(error)")
        }
        guard let root else { throw ProfileError(file: file, line: nil, path: "", message: "the file is empty") }
        var reader = ProfileReader(file: file, catalog: catalog)
        return try reader.profile(root)
    }
}

private struct ProfileReader {
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
                        case "start": start = Int(try integer(v, "\(here).start", 0...65535))
                        case "doc": start = Int(try integer(v, "\(here).doc", 1...65536)) - 1
                        case "count": count = Int(try integer(v, "\(here).count", 1...125))
                        default: fn = try function(v, "\(here).function")
                        }
                    }
                    guard let start, let count else { throw fail(block, here, "a block needs start (or doc) and count") }
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

    // MARK: - Models and points

    mutating func model(_ definition: ModelDefinition, _ node: Node, _ path: String) throws(ProfileError) -> MappedModel {
        var points: [String: PointSource] = [:]
        var groups: [String: [[String: PointSource]]] = [:]
        let countPoints = Set(
            definition.group.groups.compactMap { g -> String? in
                if case .point(let name)? = g.count { return name }
                return nil
            })
        for (key, keyNode, value) in try mapping(node, path, allowed: nil) {
            let here = "\(path).\(key)"
            if let group = definition.group.groups.first(where: { $0.name == key }) {
                guard group.isRepeating, let list = value.sequence else {
                    throw fail(value, here, "a repeating group is a list of instances, each a mapping of its points")
                }
                var instances: [[String: PointSource]] = []
                for (i, item) in list.enumerated() {
                    var sources: [String: PointSource] = [:]
                    for (pk, pkNode, pv) in try mapping(item, "\(here)[\(i)]", allowed: nil) {
                        guard let point = group.points.first(where: { $0.name == pk }) else {
                            throw fail(pkNode, "\(here)[\(i)].\(pk)", "unknown point of group \(group.name) in model \(definition.id)")
                        }
                        sources[pk] = try self.source(point, pv, "\(here)[\(i)].\(pk)")
                    }
                    instances.append(sources)
                }
                groups[key] = instances
                continue
            }
            guard let point = definition.group.points.first(where: { $0.name == key }) else {
                throw fail(keyNode, here, "unknown point of model \(definition.id) (\(definition.name))")
            }
            guard point.type != .sunssf else {
                throw fail(keyNode, here, "scale factors are chosen by the gateway; map the values they scale")
            }
            guard point.name != "ID", point.name != "L", point.type != .pad else { throw fail(keyNode, here, "cannot be mapped") }
            if countPoints.contains(point.name) {
                throw fail(keyNode, here, "counts the instances listed under its group; it is filled in")
            }
            points[key] = try source(point, value, here)
        }
        for point in definition.group.points.dropFirst(2) where point.mandatory && point.isPublished && !countPoints.contains(point.name) {
            guard points[point.name] != nil else {
                throw fail(
                    node, "\(path).\(point.name)",
                    "missing mandatory point (map it, or write '\(point.name): null' if the device does not have it)")
            }
        }
        return MappedModel(definition: definition, points: points, groups: groups)
    }

    mutating func source(_ point: PointDefinition, _ node: Node, _ path: String) throws(ProfileError) -> PointSource {
        if let scalar = node.scalar {
            if scalar.string == "null" || scalar.string == "~" || (node.tag.description.hasSuffix("null")) { return .notImplemented }
            // A constant.
            if point.type == .string {
                guard scalar.string.utf8.count <= point.size * 2 else {
                    throw fail(node, path, "'\(scalar.string)' is longer than the \(point.size * 2) bytes of \(point.name)")
                }
                return .constant(.text(scalar.string))
            }
            let value = try number(node, path)
            try checkFits(value, point, node, path)
            return .constant(.number(value))
        }
        let entries = try mapping(
            node, path,
            allowed: [
                "address", "doc", "type", "size", "function", "word_order", "scale", "offset", "invert", "sentinels", "map", "flags",
                "sign", "otherwise", "precision", "bits", "max", "min", "sum",
            ])
        let keys = Dictionary(uniqueKeysWithValues: entries.map { ($0.0, $0.2) })
        if let bits = keys["bits"] {
            guard [.bitfield16, .bitfield32, .bitfield64].contains(point.type) else {
                throw fail(bits, "\(path).bits", "\(point.name) is a \(point.type.rawValue), not a bitfield")
            }
            guard keys.count == 1 else { throw fail(node, path, "'bits' stands alone") }
            return .bits(try bitSources(bits, point, "\(path).bits"))
        }
        // An aggregate over several registers: max/min/sum: [addresses].
        var aggregate: Aggregate?
        var addresses: [Int] = []
        for kind in [Aggregate.max, .min, .sum] {
            guard let list = keys[kind.rawValue] else { continue }
            guard aggregate == nil, keys["address"] == nil, keys["doc"] == nil else {
                throw fail(list, "\(path).\(kind.rawValue)", "give one of address, doc, max, min or sum")
            }
            guard let items = list.sequence, items.count >= 2 else {
                throw fail(list, "\(path).\(kind.rawValue)", "expected a list of at least two addresses")
            }
            for (i, item) in items.enumerated() { addresses.append(Int(try integer(item, "\(path).\(kind.rawValue)[\(i)]", 0...65535))) }
            aggregate = kind
        }
        guard keys["address"] != nil || keys["doc"] != nil || aggregate != nil else {
            throw fail(node, path, "needs address (0-based), doc (1-based register number), or max/min/sum: [addresses]")
        }
        let address: Int =
            if let first = addresses.first {
                first
            } else if let a = keys["address"] {
                Int(try integer(a, "\(path).address", 0...65535))
            } else {
                Int(try integer(keys["doc"]!, "\(path).doc", 1...65536)) - 1
            }
        guard let typeNode = keys["type"] else {
            throw fail(node, "\(path).type", "missing (u16, s16, u32, s32, u64, s64, f32, f64, string)")
        }
        let typeText = try string(typeNode, "\(path).type")
        guard let type = VendorType(rawValue: typeText) else {
            throw fail(
                typeNode, "\(path).type", "'\(typeText)' is not one of \(VendorType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var size = type.registerCount(size: 1)
        if type == .string {
            guard let s = keys["size"] else { throw fail(node, "\(path).size", "a string needs its size in registers") }
            size = Int(try integer(s, "\(path).size", 1...125))
            guard point.type == .string else {
                throw fail(typeNode, "\(path).type", "a string cannot fill \(point.name), a \(point.type.rawValue)")
            }
        } else if point.type == .string {
            throw fail(typeNode, "\(path).type", "\(point.name) is a string; its source must be one")
        }
        var source = VendorRegister(
            address: address, type: type, size: size, function: defaults.function, wordOrder: defaults.wordOrder, scale: 1, offset: 0,
            invert: false, sentinels: [], map: [:], flags: [], sign: nil, otherwise: nil, precision: nil)
        guard address + size <= 65536, addresses.allSatisfy({ $0 + size <= 65536 }) else {
            throw fail(node, path, "registers run past 65535")
        }
        source.alsoAt = Array(addresses.dropFirst())
        source.aggregate = aggregate
        if aggregate != nil && (type == .string || !source.map.isEmpty) { throw fail(node, path, "an aggregate combines numbers") }
        if let f = keys["function"] { source.function = try function(f, "\(path).function") }
        if let w = keys["word_order"] { source.wordOrder = try wordOrder(w, "\(path).word_order") }
        if let s = keys["scale"] {
            source.scale = try number(s, "\(path).scale")
            guard source.scale != 0 else { throw fail(s, "\(path).scale", "must not be 0") }
        }
        if let o = keys["offset"] { source.offset = try number(o, "\(path).offset") }
        if let i = keys["invert"] {
            guard let b = i.scalar?.string, ["true", "false"].contains(b) else { throw fail(i, "\(path).invert", "expected true or false") }
            source.invert = b == "true"
        }
        if let p = keys["precision"] { source.precision = Int(try integer(p, "\(path).precision", -10...10)) }
        if let list = keys["sentinels"] {
            guard let items = list.sequence else { throw fail(list, "\(path).sentinels", "expected a list of raw values") }
            for (k, item) in items.enumerated() {
                source.sentinels.append(try integer(item, "\(path).sentinels[\(k)]", Int64.min...Int64.max))
            }
        }
        let integerOnly = [.enum16, .enum32, .bitfield16, .bitfield32, .bitfield64, .count].contains(point.type)
        if let m = keys["map"] {
            for (k, kNode, v) in try mapping(m, "\(path).map", allowed: nil) {
                guard let vendorValue = Self.parseInteger(k) else { throw fail(kNode, "\(path).map", "'\(k)' is not an integer") }
                let target = try integer(v, "\(path).map.\(k)", Int64.min...Int64.max)
                try checkFits(Double(target), point, v, "\(path).map.\(k)")
                source.map[vendorValue] = target
            }
        }
        if let f = keys["flags"] {
            for (k, kNode, v) in try mapping(f, "\(path).flags", allowed: nil) {
                guard let bit = Int(k), bit >= 0, bit < size * 16 else {
                    throw fail(kNode, "\(path).flags", "'\(k)' is not a bit of a \(type.rawValue)")
                }
                let target = try integer(v, "\(path).flags.\(k)", Int64.min...Int64.max)
                try checkFits(Double(target), point, v, "\(path).flags.\(k)")
                source.flags.append((bit, target))
            }
        }
        if let s = keys["sign"] {
            var values: [String: Int64] = [:]
            for (k, _, v) in try mapping(s, "\(path).sign", allowed: ["positive", "negative", "zero"]) {
                values[k] = try integer(v, "\(path).sign.\(k)", Int64.min...Int64.max)
                try checkFits(Double(values[k]!), point, v, "\(path).sign.\(k)")
            }
            guard let p = values["positive"], let n = values["negative"], let z = values["zero"] else {
                throw fail(s, "\(path).sign", "needs positive, negative and zero")
            }
            source.sign = SignMap(positive: p, negative: n, zero: z)
        }
        if let o = keys["otherwise"] {
            source.otherwise = try integer(o, "\(path).otherwise", Int64.min...Int64.max)
            try checkFits(Double(source.otherwise!), point, o, "\(path).otherwise")
        }
        if integerOnly && source.map.isEmpty && source.flags.isEmpty && source.sign == nil && (source.scale != 1 || source.offset != 0) {
            throw fail(
                node, path,
                "\(point.name) is a \(point.type.rawValue): its value must be a whole vendor value, or come from map, flags or sign")
        }
        if !type.isInteger && (!source.map.isEmpty || !source.flags.isEmpty) {
            throw fail(node, path, "map and flags need an integer register type")
        }
        for range in source.allRegisters { ranges.append((source.function, range, type, path, node)) }
        return .register(source)
    }

    mutating func bitSources(_ node: Node, _ point: PointDefinition, _ path: String) throws(ProfileError) -> [BitSource] {
        guard let list = node.sequence, !list.isEmpty else { throw fail(node, path, "expected a list of {address|doc, bit, to}") }
        let width = (point.type.registerCount ?? 1) * 16
        var out: [BitSource] = []
        for (i, item) in list.enumerated() {
            let here = "\(path)[\(i)]"
            var address: Int?
            var bit = 0
            var to: Int?
            var type = VendorType.u16
            var fn = defaults.function
            var order = defaults.wordOrder
            var equals: [Int64] = []
            for (k, _, v) in try mapping(item, here, allowed: ["address", "doc", "bit", "to", "type", "function", "word_order", "equals"]) {
                switch k {
                case "address": address = Int(try integer(v, "\(here).address", 0...65535))
                case "doc": address = Int(try integer(v, "\(here).doc", 1...65536)) - 1
                case "bit": bit = Int(try integer(v, "\(here).bit", 0...63))
                case "to": to = Int(try integer(v, "\(here).to", 0...Int64(width - 1)))
                case "type":
                    let t = try string(v, "\(here).type")
                    guard let vt = VendorType(rawValue: t), [.u16, .u32, .u64].contains(vt) else {
                        throw fail(v, "\(here).type", "'\(t)' is not u16, u32 or u64")
                    }
                    type = vt
                case "function": fn = try function(v, "\(here).function")
                case "word_order": order = try wordOrder(v, "\(here).word_order")
                default:
                    if let items = v.sequence {
                        for (k2, e) in items.enumerated() { equals.append(try integer(e, "\(here).equals[\(k2)]", Int64.min...Int64.max)) }
                    } else {
                        equals = [try integer(v, "\(here).equals", Int64.min...Int64.max)]
                    }
                }
            }
            guard let address, let to else { throw fail(item, here, "needs address (or doc) and to (the SunSpec bit)") }
            guard bit < type.registerCount(size: 1) * 16 else {
                throw fail(item, "\(here).bit", "\(bit) is not a bit of a \(type.rawValue)")
            }
            let source = BitSource(address: address, function: fn, type: type, wordOrder: order, bit: bit, whenEquals: equals, to: to)
            ranges.append((fn, source.registers, type, here, item))
            out.append(source)
        }
        return out
    }

    func checkFits(_ value: Double, _ point: PointDefinition, _ node: Node, _ path: String) throws(ProfileError) {
        if point.scaleFactor != nil || point.type == .float32 || point.type == .float64 { return }
        guard value == value.rounded(), ProfileMapper.fits(value, point.type) else {
            throw fail(node, path, "\(value) cannot be held by \(point.name), a \(point.type.rawValue)")
        }
    }

    /// Two sources may read the same registers the same way; ranges that overlap otherwise are a mistake.
    func checkOverlaps() throws(ProfileError) {
        let sorted = ranges.sorted { ($0.function.code, $0.range.lowerBound) < ($1.function.code, $1.range.lowerBound) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.function == b.function && a.range.overlaps(b.range) {
            if a.range == b.range && a.type == b.type { continue }
            throw fail(
                b.node, b.path,
                "registers \(b.range.lowerBound)...\(b.range.upperBound - 1) (\(b.type.rawValue)) overlap \(a.path) at \(a.range.lowerBound)...\(a.range.upperBound - 1) (\(a.type.rawValue))"
            )
        }
    }
}
