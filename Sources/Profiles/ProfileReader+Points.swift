import SunSpec
import YAMLFiles
import Yams

/// The models and point sources of a profile, checked against the model definitions.
extension ProfileReader {
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
        let keys = try mapping(
            node, path,
            allowed: [
                "address", "doc", "type", "size", "function", "word_order", "scale", "offset", "invert", "sentinels", "map", "flags",
                "sign", "otherwise", "precision", "bits", "max", "min", "sum",
            ])
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
            for (i, item) in items.enumerated() { addresses.append(try integer(item, "\(path).\(kind.rawValue)[\(i)]", 0...65535)) }
            aggregate = kind
        }
        if keys["address"] != nil, let doc = keys["doc"] {
            throw fail(doc, "\(path).doc", "give address (0-based) or doc (1-based), not both")
        }
        guard keys["address"] != nil || keys["doc"] != nil || aggregate != nil else {
            throw fail(node, path, "needs address (0-based), doc (1-based register number), or max/min/sum: [addresses]")
        }
        let address: Int =
            if let first = addresses.first {
                first
            } else if let a = keys["address"] {
                try integer(a, "\(path).address", 0...65535)
            } else {
                try integer(keys["doc"]!, "\(path).doc", 1...65536) - 1
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
            size = try integer(s, "\(path).size", 1...125)
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
        if let i = keys["invert"] { source.invert = try bool(i, "\(path).invert") }
        if let p = keys["precision"] { source.precision = try integer(p, "\(path).precision", -10...10) }
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
                case "address", "doc":
                    guard address == nil else { throw fail(v, "\(here).\(k)", "give address (0-based) or doc (1-based), not both") }
                    address =
                        k == "doc" ? try integer(v, "\(here).doc", 1...65536) - 1 : try integer(v, "\(here).address", 0...65535)
                case "bit": bit = try integer(v, "\(here).bit", 0...63)
                case "to": to = try integer(v, "\(here).to", 0...(width - 1))
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
        if point.scaleFactor != nil || point.type == .float32 || point.type == .float64 {
            guard ProfileMapper.holdable(value, point.type) else {
                throw fail(node, path, "\(value) cannot be held by \(point.name), a \(point.type.rawValue), at any scale factor")
            }
            return
        }
        guard value == value.rounded(), ProfileMapper.fits(value, point.type) else {
            throw fail(node, path, "\(value) cannot be held by \(point.name), a \(point.type.rawValue)")
        }
    }

    /// Two sources may read the same registers the same way; ranges that overlap otherwise are a mistake.
    func checkOverlaps() throws(ProfileError) {
        let sorted = ranges.sorted { ($0.function.functionCode, $0.range.lowerBound) < ($1.function.functionCode, $1.range.lowerBound) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.function == b.function && a.range.overlaps(b.range) {
            if a.range == b.range && a.type == b.type { continue }
            throw fail(
                b.node, b.path,
                "registers \(b.range.lowerBound)...\(b.range.upperBound - 1) (\(b.type.rawValue)) overlap \(a.path) at \(a.range.lowerBound)...\(a.range.upperBound - 1) (\(a.type.rawValue))"
            )
        }
    }
}
