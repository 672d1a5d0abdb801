import SunSpec

/// Turns a vendor device's registers into a SunSpec map, so a profile device is read, published and
/// exported exactly like a SunSpec one: `SunS` at 40000, model 1 from the profile's identity, the
/// mapped models, the end marker. Scale factors are chosen per poll so values keep the precision
/// the vendor gives and fit their SunSpec types.
public struct ProfileMapper: Sendable {
    /// The profile.
    public let profile: Profile
    /// Where the SunSpec map starts.
    public static let base = 40000

    /// A mapper for a profile.
    public init(profile: Profile) {
        self.profile = profile
    }

    /// The SunSpec map, and per model address what could not be mapped.
    public struct Result: Sendable {
        /// `SunS`, model 1, the mapped models, the end marker.
        public var image: RegisterImage
        /// Problems by the address of the model's ID register.
        public var errors: [Int: [String]]
    }

    /// Maps the vendor registers; `deviceName` fills model 1's `Opt` when the profile gives none.
    public func map(_ registers: VendorRegisters) -> Result {
        var words: [UInt16] = [0x5375, 0x6E53]
        var errors: [Int: [String]] = [:]
        if let common = ModelCatalog.builtin.definition(for: 1) {
            var identity: [String: RawValue] = profile.identity.mapValues { .string($0) }
            identity["DA"] = .int(Int64(profile.defaults.unit))
            words += (try? ModelEncoder.encode(common, values: identity)) ?? []
        }
        for model in profile.models {
            let address = Self.base + words.count
            var problems: [String] = []
            let values = encodeValues(model, registers, &problems)
            do {
                words += try ModelEncoder.encode(model.definition, values: values)
            } catch {
                problems.append("\(error)")
                words += (try? ModelEncoder.encode(model.definition, values: [:])) ?? []
            }
            if !problems.isEmpty { errors[address] = problems }
        }
        words += [0xFFFF, 0]
        return Result(image: RegisterImage(blocks: [.init(start: Self.base, registers: words)]), errors: errors)
    }

    // MARK: - One model

    private struct Pending {
        let point: PointDefinition
        let value: VendorValue
        /// Where to put the raw value: a path of group names and indexes, then the point name.
        let group: [(String, Int)]
    }

    private func encodeValues(_ model: MappedModel, _ registers: VendorRegisters, _ problems: inout [String]) -> [String: RawValue] {
        let definition = model.definition
        var pending: [Pending] = []
        func collect(_ group: GroupDefinition, _ sources: [String: PointSource], _ path: [(String, Int)]) {
            for point in group.points {
                guard let source = sources[point.name] else { continue }
                pending.append(Pending(point: point, value: evaluate(source, point, registers), group: path))
            }
        }
        collect(definition.group, model.points, [])
        for (name, instances) in model.groups {
            guard let group = definition.group.groups.first(where: { $0.name == name }) else { continue }
            for (i, sources) in instances.enumerated() { collect(group, sources, [(name, i)]) }
        }
        // Scale factors: per sunssf point, the finest precision its points carry that still fits.
        var exponents: [String: Int] = [:]
        var users: [String: [Pending]] = [:]
        for p in pending {
            if case .point(let sf, _) = p.point.scaleFactor { users[sf, default: []].append(p) }
        }
        for (sf, list) in users {
            let numbers = list.compactMap { p -> (Double, Int, PointType)? in
                if case .number(let v, let precision) = p.value { return (v, precision, p.point.type) }
                if case .integer(let v) = p.value { return (Double(v), 0, p.point.type) }
                return nil
            }.filter { Self.holdable($0.0, $0.2) }  // a value no exponent lets its point hold is null: it must not coarsen the others
            var e = max(-10, min(10, numbers.map(\.1).min() ?? 0))
            while e < 10 && !numbers.allSatisfy({ Self.fits(($0.0 / Self.pow10(e)).rounded(), $0.2) }) { e += 1 }
            exponents[sf] = e
        }
        var top: [String: RawValue] = [:]
        var groups: [String: [[String: RawValue]]] = [:]
        for (name, instances) in model.groups { groups[name] = Array(repeating: [:], count: instances.count) }
        for p in pending {
            let raw = rawValue(p, exponents, &problems)
            if let (group, index) = p.group.first {
                groups[group]![index][p.point.name] = raw
            } else {
                top[p.point.name] = raw
            }
        }
        for (sf, e) in exponents { top[sf] = .int(Int64(e)) }
        // Scale factors no mapped value uses, and counts of repeating groups, are filled in.
        for point in definition.group.points where point.type == .sunssf && top[point.name] == nil {
            top[point.name] = .int(0)
        }
        for group in definition.group.groups {
            guard case .point(let countName)? = group.count, top[countName] == nil else { continue }
            top[countName] = .int(Int64(groups[group.name]?.count ?? 0))
        }
        for (name, instances) in groups { top[name] = .array(instances.map { .object($0) }) }
        return top
    }

    private func evaluate(_ source: PointSource, _ point: PointDefinition, _ registers: VendorRegisters) -> VendorValue {
        switch source {
        case .notImplemented:
            return .null
        case .constant(.number(let n)):
            if let whole = Int64(exactly: n) { return .integer(whole) }
            // Beyond Int64 (or with a fraction): a number, checked against the point where it is encoded.
            return .number(n, precision: n == n.rounded() ? 0 : VendorRegister.decimals(of: abs(n - n.rounded(.towardZero))))
        case .constant(.text(let s)):
            return .text(s)
        case .register(let r):
            return r.value(registers)
        case .bits(let list):
            var value: Int64 = 0
            var any = false
            for b in list {
                guard let set = b.isSet(registers) else { continue }
                any = true
                if set { value |= 1 << Int64(b.to) }
            }
            return any ? .integer(value) : .null
        }
    }

    private func rawValue(_ p: Pending, _ exponents: [String: Int], _ problems: inout [String]) -> RawValue {
        let type = p.point.type
        switch p.value {
        case .null:
            return .null
        case .text(let s):
            return type == .string ? .string(s) : .null
        case .integer(let i) where p.point.scaleFactor == nil:
            guard Self.fits(Double(i), type) else {
                problems.append("\(p.point.name): \(i) does not fit \(type.rawValue)")
                return .null
            }
            return .int(i)
        case .integer(let i):
            return scaled(Double(i), p, exponents, &problems)
        case .number(let v, _):
            if type == .float32 || type == .float64 {
                guard Self.holdable(v, type) else {
                    problems.append("\(p.point.name): \(v) does not fit \(type.rawValue)")
                    return .null
                }
                return .double(v)
            }
            return scaled(v, p, exponents, &problems)
        }
    }

    private func scaled(_ v: Double, _ p: Pending, _ exponents: [String: Int], _ problems: inout [String]) -> RawValue {
        var e = 0
        switch p.point.scaleFactor {
        case .constant(let n)?: e = n
        case .point(let sf, _)?: e = exponents[sf] ?? 0
        case nil: e = 0
        }
        let raw = (v / Self.pow10(e)).rounded()
        guard v >= 0 || p.point.type.isSigned, Self.fits(raw, p.point.type), let exact = Int64(exactly: raw) else {
            problems.append("\(p.point.name): \(v) does not fit \(p.point.type.rawValue)")
            return .null
        }
        return .int(exact)
    }

    /// Whether a raw value fits a SunSpec integer type without being its not-implemented value.
    static func fits(_ raw: Double, _ type: PointType) -> Bool {
        switch type {
        case .int16: return raw >= -32767 && raw <= 32767
        case .uint16, .count, .enum16, .bitfield16: return raw >= 0 && raw <= 65534
        case .acc16: return raw >= 1 && raw <= 65535
        case .int32: return raw >= -2_147_483_647 && raw <= 2_147_483_647
        case .uint32, .enum32, .bitfield32: return raw >= 0 && raw <= 4_294_967_294
        case .acc32: return raw >= 1 && raw <= 4_294_967_295
        // Raw values travel as Int64: 64-bit points hold what Int64 holds (2^63 is Double(Int64.max)).
        case .int64: return raw > -9_223_372_036_854_775_808.0 && raw < 9_223_372_036_854_775_808.0
        case .uint64, .bitfield64: return raw >= 0 && raw < 9_223_372_036_854_775_808.0
        case .acc64: return raw >= 0 && raw < 9_223_372_036_854_775_808.0
        case .float32, .float64: return true
        default: return false
        }
    }

    /// Whether some scale factor in -10...10 lets a point of `type` hold `value` (a profile constant).
    public static func holdable(_ value: Double, _ type: PointType) -> Bool {
        guard value.isFinite else { return false }
        switch type {
        case .float32: return Float(value).isFinite
        case .float64: return true
        // A negative value is not held by an unsigned point, even where a coarse exponent rounds it to 0.
        default: return (value >= 0 || type.isSigned) && (-10...10).contains { fits((value / pow10($0)).rounded(), type) }
        }
    }

    static func pow10(_ e: Int) -> Double {
        var v = 1.0
        for _ in 0..<abs(e) { v *= 10 }
        return e < 0 ? 1 / v : v
    }
}
