import ModbusCore
import SunSpec

/// A SunSpec point of a profile that can be written: its source is one holding register (u16,
/// s16, u32, s32 in its word order) with a scale, offset, sign or an invertible enum map. A value
/// in SunSpec units is written through the inverse of that transform, exactly or not at all.
public struct VendorWriteTarget: Sendable {
    /// The first vendor register (0-based protocol address).
    public let address: Int
    /// Registers written.
    public let size: Int
    /// The source being inverted.
    public let source: VendorRegister
    /// SunSpec value to vendor value, for a mapped source.
    let inverseMap: [Int64: Int64]

    /// The target of a source, or why it cannot be written.
    init(_ source: VendorRegister, name: String) throws(ControlPathError) {
        guard source.function == .holding else {
            throw ControlPathError("\(name) comes from input register \(source.address) (function 4), which cannot be written")
        }
        guard [.u16, .s16, .u32, .s32].contains(source.type) else {
            throw ControlPathError("\(name) comes from a \(source.type.rawValue) register; only u16, s16, u32 and s32 are written")
        }
        guard source.alsoAt.isEmpty, source.aggregate == nil else {
            throw ControlPathError("\(name) combines several registers; it cannot be written")
        }
        guard source.sign == nil, source.flags.isEmpty else {
            throw ControlPathError("\(name) is derived from the sign or bits of register \(source.address); it cannot be written")
        }
        guard source.scale.isFinite, source.scale != 0, source.offset.isFinite,
            ExactDecimal(parsing: "\(source.scale)") != nil, ExactDecimal(parsing: "\(source.offset)") != nil
        else {
            throw ControlPathError("\(name): scale \(source.scale) and offset \(source.offset) cannot be inverted exactly")
        }
        var inverse: [Int64: Int64] = [:]
        for (vendor, sunspec) in source.map {
            if let other = inverse[sunspec] {
                throw ControlPathError(
                    "\(name): its map sends vendor values \(min(other, vendor)) and \(max(other, vendor)) to \(sunspec), so it cannot be inverted"
                )
            }
            inverse[sunspec] = vendor
        }
        self.source = source
        self.address = source.address
        self.size = source.type.registerCount(size: 1)
        self.inverseMap = inverse
    }

    /// The vendor registers (in address order) for `value` of the SunSpec point `point`.
    public func encode(_ value: SetpointValue, point: PointDefinition) throws(SetpointError) -> [UInt16] {
        let sunspec = try Self.sunspecValue(value, point)
        var raw: Int128
        if !source.map.isEmpty {
            guard sunspec.isInteger, let key = Int64(exactly: sunspec.doubleValue), let vendor = inverseMap[key] else {
                throw .outOfRange("no vendor value of register \(address) maps to \(value) (\(point.name))")
            }
            raw = Int128(vendor)
        } else {
            raw = try VendorArithmetic.inverse(
                sunspec, scale: ExactDecimal(parsing: "\(source.scale)")!, offset: ExactDecimal(parsing: "\(source.offset)")!,
                invert: source.invert, what: "\(value) (\(point.name)) for register \(address)")
        }
        let range: ClosedRange<Int128> =
            switch source.type {
            case .u16: 0...0xFFFF
            case .s16: -0x8000...0x7FFF
            case .u32: 0...0xFFFF_FFFF
            default: -0x8000_0000...0x7FFF_FFFF
            }
        guard range.contains(raw) else {
            throw .outOfRange("\(value) (\(point.name)) is raw \(raw) in register \(address), outside \(source.type.rawValue)")
        }
        let bits = UInt64(truncatingIfNeeded: Int64(raw)) & (size == 1 ? 0xFFFF : 0xFFFF_FFFF)
        if source.sentinels.contains(Int64(raw)) || source.sentinels.contains(Int64(bits)) {
            throw .outOfRange("\(value) (\(point.name)) is raw \(raw) in register \(address), the vendor's 'no value'")
        }
        let words = size == 1 ? [UInt16(bits)] : [UInt16(bits >> 16), UInt16(bits & 0xFFFF)]
        return source.wordOrder == .lowFirst ? words.reversed() : words
    }

    /// The SunSpec value of the vendor registers read back (in address order); nil when they mean no value.
    public func decode(_ registers: [UInt16]) -> SetpointValue? {
        guard registers.count == size else { return nil }
        let words = source.wordOrder == .lowFirst ? Array(registers.reversed()) : registers
        let bits = words.reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let raw: Int64 =
            switch source.type {
            case .s16: Int64(Int16(truncatingIfNeeded: bits))
            case .s32: Int64(Int32(truncatingIfNeeded: bits))
            default: Int64(bits)
            }
        if source.sentinels.contains(raw) || source.sentinels.contains(Int64(bits)) { return nil }
        if !source.map.isEmpty {
            guard let mapped = source.map[raw] ?? source.otherwise else { return nil }
            return .number(ExactDecimal(mapped, exponent: 0))
        }
        return VendorArithmetic.forward(
            raw, scale: ExactDecimal(parsing: "\(source.scale)")!, offset: ExactDecimal(parsing: "\(source.offset)")!,
            invert: source.invert
        ).map { .number($0) }
    }

    /// The value as a SunSpec number: enum symbols by their value, bitfield symbols as their bit.
    static func sunspecValue(_ value: SetpointValue, _ point: PointDefinition) throws(SetpointError) -> ExactDecimal {
        switch value {
        case .number(let d):
            if [.enum16, .enum32].contains(point.type), !point.symbols.isEmpty,
                !point.symbols.contains(where: { ExactDecimal($0.value, exponent: 0) == d })
            {
                throw .outOfRange("\(d) is not the value of a symbol of \(point.name)")
            }
            return d
        case .symbol(let name):
            guard let symbol = point.symbols.first(where: { $0.name == name }) else {
                throw .outOfRange("\(name) is not a symbol of \(point.name)")
            }
            if [.bitfield16, .bitfield32].contains(point.type) {
                guard (0..<63).contains(symbol.value) else { throw .outOfRange("\(name) is not a bit of \(point.name)") }
                return ExactDecimal(Int64(1) << symbol.value, exponent: 0)
            }
            return ExactDecimal(symbol.value, exponent: 0)
        }
    }
}

extension Profile {
    /// Where a SunSpec point of this profile is written; refuses a point the profile does not
    /// map from one writable holding register.
    public func writeTarget(for path: PointPath) throws(ControlPathError) -> VendorWriteTarget {
        guard let model = models.first(where: { $0.definition.id == path.model }) else {
            throw ControlPathError(
                "\(path): profile \(name) maps no model \(path.model) (it maps \(models.map { "\($0.definition.id)" }.joined(separator: ", ")))"
            )
        }
        guard path.instance == 0 else { throw ControlPathError("\(path): profile \(name) maps one instance of model \(path.model)") }
        let source: PointSource?
        switch path.groups.count {
        case 0:
            source = model.points[path.point]
        case 1:
            let step = path.groups[0]
            guard let instances = model.groups[step.name], step.index < instances.count else {
                throw ControlPathError("\(path): profile \(name) maps no repeat \(step.index) of group \(step.name)")
            }
            source = instances[step.index][path.point]
        default:
            throw ControlPathError("\(path): profile \(name) maps no nested groups")
        }
        switch source {
        case nil, .notImplemented?:
            throw ControlPathError("\(path): profile \(name) does not map this point from a register")
        case .constant?:
            throw ControlPathError("\(path): profile \(name) gives this point as a constant, not a register")
        case .bits?:
            throw ControlPathError("\(path): profile \(name) builds this point from bits of registers; it cannot be written")
        case .register(let register)?:
            return try VendorWriteTarget(register, name: "\(path)")
        }
    }
}
