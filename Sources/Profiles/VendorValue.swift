import ModbusCore
import SunSpec

/// A vendor point's value in SunSpec terms.
public enum VendorValue: Sendable, Equatable {
    case null
    /// A number in SunSpec units, with the decimal places it carries.
    case number(Double, precision: Int)
    /// An integer (enums, bitfields, mapped values).
    case integer(Int64)
    case text(String)
}

/// The registers a profile reads: holding and input, as captured or polled.
public struct VendorRegisters: Sendable {
    /// Function 3.
    public var holding: RegisterImage
    /// Function 4.
    public var input: RegisterImage

    /// Creates the pair.
    public init(holding: RegisterImage = RegisterImage(), input: RegisterImage = RegisterImage()) {
        self.holding = holding
        self.input = input
    }

    func image(_ function: RegisterKind) -> RegisterImage { function == .holding ? holding : input }

    /// The words of a register range in value order (most significant first), or nil if not all there.
    func words(_ function: RegisterKind, _ address: Int, _ count: Int, _ order: WordOrder) -> [UInt16]? {
        let window = image(function).window(start: address, count: count)
        guard window.missing == nil else { return nil }
        let words = Array(window.values)
        return order == .highFirst || count == 1 ? words : words.reversed()
    }
}

extension VendorRegister {
    /// The raw value as an integer bit pattern (floats as their bits), or nil when not readable.
    func rawBits(_ registers: VendorRegisters) -> UInt64? {
        guard let words = registers.words(function, address, type.registerCount(size: size), type == .string ? .highFirst : wordOrder)
        else {
            return nil
        }
        return words.prefix(4).reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
    }

    /// The value in SunSpec terms (combined over `alsoAt` when there is an aggregate).
    public func value(_ registers: VendorRegisters) -> VendorValue {
        guard let aggregate, !alsoAt.isEmpty else { return single(registers) }
        var parts: [(Double, Int)] = []
        for address in [self.address] + alsoAt {
            var one = self
            one.address = address
            one.alsoAt = []
            switch one.single(registers) {
            case .number(let v, let p): parts.append((v, p))
            case .integer(let i): parts.append((Double(i), 0))
            default: continue
            }
        }
        guard !parts.isEmpty else { return .null }
        let precision = parts.map(\.1).min() ?? 0
        switch aggregate {
        case .max: return .number(parts.map(\.0).max()!, precision: precision)
        case .min: return .number(parts.map(\.0).min()!, precision: precision)
        case .sum: return .number(parts.map(\.0).reduce(0, +), precision: precision)
        }
    }

    /// The value of the register at `address` alone.
    func single(_ registers: VendorRegisters) -> VendorValue {
        if type == .string {
            guard let words = registers.words(function, address, size, .highFirst) else { return .null }
            var bytes: [UInt8] = []
            for w in words {
                bytes.append(UInt8(w >> 8))
                bytes.append(UInt8(w & 0xFF))
            }
            let text = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self).trimmingTrailingSpaces()
            return text.isEmpty ? .null : .text(text)
        }
        guard let bits = rawBits(registers) else { return .null }
        if sentinels.contains(Int64(bitPattern: bits)) { return .null }
        let raw: Double
        var integer: Int64?
        switch type {
        case .u16, .u32: integer = Int64(bits)
        case .u64: integer = Int64(bitPattern: bits)
        case .s16: integer = Int64(Int16(truncatingIfNeeded: bits))
        case .s32: integer = Int64(Int32(truncatingIfNeeded: bits))
        case .s64: integer = Int64(bitPattern: bits)
        default: break
        }
        if type.isInteger, sentinels.contains(integer!) { return .null }
        switch type {
        case .f32:
            // NaN is a float's not-implemented value; an infinity goes on, to be refused with a note.
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: bits))
            guard !f.isNaN else { return .null }
            raw = Double(f)
        case .f64:
            let d = Double(bitPattern: bits)
            guard !d.isNaN else { return .null }
            raw = d
        case .u64:
            raw = Double(bits)  // above 2^63 too: the Int64 pattern is only a key for maps and sentinels
        default:
            raw = Double(integer!)
        }
        if let sign {
            return .integer(raw > 0 ? sign.positive : raw < 0 ? sign.negative : sign.zero)
        }
        if !map.isEmpty || !flags.isEmpty {
            guard let key = integer else { return .null }
            if let mapped = map[key] { return .integer(mapped) }
            for flag in flags where key & (1 << Int64(flag.bit)) != 0 { return .integer(flag.value) }
            return otherwise.map { .integer($0) } ?? .null
        }
        var v = raw * scale + offset  // may overflow to an infinity (scale and offset are finite): refused with a note
        if invert { v = -v }
        return .number(v, precision: precision ?? (type.isInteger ? Self.decimals(of: scale) : -2))
    }

    /// Decimal places a multiplier produces: 0.1 -> -1, 0.01 -> -2, 1 -> 0, 10 -> 1.
    static func decimals(of scale: Double) -> Int {
        guard scale > 0, scale.isFinite else { return 0 }
        var e = 0
        var s = scale
        while s < 0.999_999 && e > -10 {
            s *= 10
            e -= 1
        }
        while s >= 10 && e < 10 && (s / 10).rounded() == s / 10 {
            s /= 10
            e += 1
        }
        return e
    }
}

extension BitSource {
    /// Whether the vendor bit is set; nil when the register is not readable.
    func isSet(_ registers: VendorRegisters) -> Bool? {
        guard let words = registers.words(function, address, type.registerCount(size: 1), wordOrder) else { return nil }
        let value = words.reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        if !whenEquals.isEmpty { return whenEquals.contains(Int64(bitPattern: value)) }
        return value & (1 << UInt64(bit)) != 0
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\0" { s.removeLast() }
        return String(s)
    }
}
