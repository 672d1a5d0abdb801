/// Setpoints in engineering units to a point's raw registers and back, at the device's own scale
/// factor: raw = value / 10^sf must be an exact integer, inside the type and not its
/// not-implemented value. The scale factor is never changed to make a value fit.
///
/// The point's `exponentAdjust` (a device quirk) is added to the scale factor, as the decoder does.
public enum SetpointEncoding {
    /// Raw registers for `value` of `point` at scale factor `scaleFactor` (nil: the point has no
    /// scale factor; for a sunssf register pass `Int(Int16(bitPattern: register))`).
    ///
    /// Throws `.outOfRange` (outside the type, its not-implemented value, an unknown symbol, a
    /// point that is not written this way), `.notRepresentable` (not an exact multiple of 10^sf),
    /// `.precondition` (a point with a scale factor given none, or one outside -10...10, which
    /// includes the not-implemented -32768).
    public static func encode(_ value: SetpointValue, point: PointDefinition, scaleFactor: Int?) throws(SetpointError) -> [UInt16] {
        let type = point.type
        switch type {
        case .string, .ipaddr, .ipv6addr, .eui48, .pad, .sunssf:
            throw .outOfRange("\(point.name) is a \(type.rawValue) point: not written as a setpoint")
        case .float32, .float64:
            guard case .number(let d) = value else { throw .outOfRange("\(point.name) is a number; '\(value)' is not") }
            let v = d.doubleValue
            if type == .float32 {
                let f = Float(v)
                guard f.isFinite else { throw .outOfRange("\(d) is outside float32") }
                return PointEncoding.words(UInt64(f.bitPattern), 2)
            }
            guard v.isFinite else { throw .outOfRange("\(d) is outside float64") }
            return PointEncoding.words(v.bitPattern, 4)
        default:
            break
        }
        let raw: Int128
        switch type {
        case .enum16, .enum32:
            raw = try enumValue(value, point)
        case .bitfield16, .bitfield32, .bitfield64:
            raw = try bitfieldValue(value, point)
        default:
            guard case .number(let d) = value else { throw .outOfRange("\(point.name) is a number; '\(value)' is not one") }
            let e = try exponent(point, scaleFactor)
            raw = try unscaled(d, exponent: e, point)
        }
        guard let range = rawRange(type), range.contains(raw) else {
            throw .outOfRange("\(value) is raw \(raw), outside what \(point.name) (\(type.rawValue)) holds: \(rawRangeText(type))")
        }
        let bits = raw < 0 ? UInt64(bitPattern: Int64(raw)) : UInt64(raw)
        return PointEncoding.words(bits, point.size)
    }

    /// Encodes at the scale factor a sunssf register holds (nil: the point has no scale factor).
    public static func encode(_ value: SetpointValue, point: PointDefinition, scaleRegister: UInt16?) throws(SetpointError) -> [UInt16] {
        try encode(value, point: point, scaleFactor: scaleRegister.map { Int(Int16(bitPattern: $0)) })
    }

    /// The value of registers read back, in engineering units; enums and bitfields as the number of
    /// their raw value. nil: not implemented, the wrong number of registers, a text point, or a
    /// scale factor that is needed and missing or outside -10...10.
    public static func decode(_ registers: [UInt16], point: PointDefinition, scaleFactor: Int?) -> SetpointValue? {
        guard let size = point.type.registerCount, registers.count == size, point.type != .pad else { return nil }
        let stored = registers.withUnsafeBufferPointer { PointDecoding.stored(point.type, $0, 0, size) }
        var e = point.exponentAdjust
        if point.scaleFactor != nil, point.type != .enum16, point.type != .enum32, !point.type.isBitfield {
            guard let sf = scaleFactor, (-10...10).contains(sf) else { return nil }
            e += sf
        }
        switch stored {
        case .int(let v): return .number(ExactDecimal(v, exponent: e))
        case .uint(let v): return .number(ExactDecimal(unsigned: v, exponent: e))
        case .float32(let f): return ExactDecimal(parsing: "\(Double(f) * ModelDecoding.pow10(e))").map { .number($0) }
        case .float64(let d): return ExactDecimal(parsing: "\(d * ModelDecoding.pow10(e))").map { .number($0) }
        default: return nil
        }
    }

    /// The scale factor a raw sunssf register holds: nil when not implemented (0x8000) or outside -10...10.
    public static func scaleFactor(register: UInt16) -> Int? {
        let e = Int(Int16(bitPattern: register))
        return (-10...10).contains(e) ? e : nil
    }

    // MARK: - Parts

    /// The power of ten the raw value is multiplied by.
    private static func exponent(_ point: PointDefinition, _ scaleFactor: Int?) throws(SetpointError) -> Int {
        guard point.scaleFactor != nil else { return (scaleFactor ?? 0) + point.exponentAdjust }
        guard let sf = scaleFactor else {
            throw .precondition("the scale factor of \(point.name) is not known (never read)")
        }
        guard (-10...10).contains(sf) else {
            throw .precondition(
                sf == -32768
                    ? "the scale factor of \(point.name) is not implemented (0x8000)"
                    : "the scale factor of \(point.name) is \(sf), outside -10...10")
        }
        return sf + point.exponentAdjust
    }

    /// `value / 10^exponent` as an exact integer.
    static func unscaled(_ value: ExactDecimal, exponent: Int, _ point: PointDefinition) throws(SetpointError) -> Int128 {
        let d = value.normalized
        if d.magnitude == 0 { return 0 }
        let shift = d.exponent - exponent
        var m = Int128(d.magnitude)
        if shift >= 0 {
            // Beyond 10^40 no point holds it anyway.
            guard shift <= 40 else { throw .outOfRange("\(value) is outside what \(point.name) (\(point.type.rawValue)) holds") }
            for _ in 0..<shift {
                guard m < Int128(1) << 100 else {
                    throw .outOfRange("\(value) is outside what \(point.name) (\(point.type.rawValue)) holds")
                }
                m *= 10
            }
        } else {
            // A normalized magnitude has no trailing zeros: any fraction digit left means not exact.
            throw .notRepresentable(
                "\(value) is not a multiple of \(ExactDecimal(1, exponent: exponent)) (scale factor \(exponent) of \(point.name))")
        }
        return d.negative ? -m : m
    }

    private static func enumValue(_ value: SetpointValue, _ point: PointDefinition) throws(SetpointError) -> Int128 {
        switch value {
        case .symbol(let name):
            guard let symbol = point.symbols.first(where: { $0.name == name }) else {
                throw .outOfRange("\(name) is not a symbol of \(point.name)\(symbolList(point))")
            }
            return Int128(symbol.value)
        case .number(let d):
            guard d.isInteger else { throw .outOfRange("\(d) is not the value of a symbol of \(point.name)\(symbolList(point))") }
            let n = try unscaled(d, exponent: 0, point)
            guard point.symbols.isEmpty || point.symbols.contains(where: { Int128($0.value) == n }) else {
                throw .outOfRange("\(d) is not the value of a symbol of \(point.name)\(symbolList(point))")
            }
            return n
        }
    }

    private static func bitfieldValue(_ value: SetpointValue, _ point: PointDefinition) throws(SetpointError) -> Int128 {
        switch value {
        case .symbol(let name):
            guard let symbol = point.symbols.first(where: { $0.name == name }), (0..<64).contains(symbol.value) else {
                throw .outOfRange("\(name) is not a bit of \(point.name)\(symbolList(point))")
            }
            return Int128(1) << Int(symbol.value)
        case .number(let d):
            guard d.isInteger, !d.negative else { throw .outOfRange("\(d) is not a bitfield value of \(point.name)") }
            return try unscaled(d, exponent: 0, point)
        }
    }

    private static func symbolList(_ point: PointDefinition) -> String {
        point.symbols.isEmpty ? "" : " (\(point.symbols.prefix(12).map { "\($0.name)=\($0.value)" }.joined(separator: ", ")))"
    }

    /// The raw values a type holds, its not-implemented value left out.
    static func rawRange(_ type: PointType) -> ClosedRange<Int128>? {
        switch type {
        case .int16: -32767...32767
        case .uint16, .count, .enum16, .bitfield16: 0...0xFFFE
        case .acc16: 1...0xFFFF
        case .int32: -0x7FFF_FFFF...0x7FFF_FFFF
        case .uint32, .enum32, .bitfield32: 0...0xFFFF_FFFE
        case .acc32: 1...0xFFFF_FFFF
        case .int64: Int128(Int64.min + 1)...Int128(Int64.max)
        case .uint64, .bitfield64: 0...Int128(UInt64.max - 1)
        case .acc64: 1...Int128(UInt64.max)
        default: nil
        }
    }

    private static func rawRangeText(_ type: PointType) -> String {
        guard let r = rawRange(type) else { return "nothing" }
        return "\(r.lowerBound)...\(r.upperBound)"
    }
}

extension PointType {
    /// bitfield16, bitfield32, bitfield64.
    var isBitfield: Bool { self == .bitfield16 || self == .bitfield32 || self == .bitfield64 }
}
