/// A decoded point value, scale factor applied.
public enum PointValue: Sendable, Hashable {
    /// Not implemented, not captured, or not computable.
    case null
    /// A signed integer (int16...int64, sunssf).
    case int(Int64)
    /// An unsigned integer (uint16...uint64, count, acc, enum, bitfield).
    case uint(UInt64)
    /// An integer with its scale factor applied, kept exact.
    case decimal(ExactDecimal)
    /// A float32 point.
    case float32(Float)
    /// A float64 point.
    case float64(Double)
    /// A string, ipaddr, ipv6addr or eui48 point.
    case string(String)

    /// The value as a Double, for numbers.
    public var doubleValue: Double? {
        switch self {
        case .int(let v): Double(v)
        case .uint(let v): Double(v)
        case .decimal(let d): d.doubleValue
        case .float32(let f): Double(f)
        case .float64(let d): d
        case .null, .string: nil
        }
    }

    /// The value as an Int64, for integers that fit.
    public var intValue: Int64? {
        switch self {
        case .int(let v): v
        case .uint(let v): v <= UInt64(Int64.max) ? Int64(v) : nil
        default: nil
        }
    }
}

/// An exact decimal: `(negative ? -1 : 1) * magnitude * 10^exponent`.
public struct ExactDecimal: Sendable, Hashable, CustomStringConvertible {
    /// The absolute value of the raw register value.
    public let magnitude: UInt64
    /// Whether the value is negative.
    public let negative: Bool
    private let power: Int8
    /// The power of ten (the scale factor, -10...10 in SunSpec).
    public var exponent: Int { Int(power) }

    /// Creates `raw * 10^exponent`; `exponent` is clamped to -100...100.
    public init(_ raw: Int64, exponent: Int) {
        self.magnitude = raw.magnitude
        self.negative = raw < 0
        self.power = Int8(clamping: max(-100, min(100, exponent)))
    }

    /// Creates `raw * 10^exponent` for an unsigned raw value.
    public init(unsigned raw: UInt64, exponent: Int) {
        self.magnitude = raw
        self.negative = false
        self.power = Int8(clamping: max(-100, min(100, exponent)))
    }

    /// `magnitude x 10^exponent`, negative when `negative` (and not 0); `exponent` is clamped to -100...100.
    public init(magnitude: UInt64, negative: Bool, exponent: Int) {
        self.magnitude = magnitude
        self.negative = negative && magnitude != 0
        self.power = Int8(clamping: max(-100, min(100, exponent)))
    }

    /// Equal values are equal whatever their exponent (`25000` and 2500 x 10^1).
    public static func == (a: ExactDecimal, b: ExactDecimal) -> Bool {
        let x = a.normalized
        let y = b.normalized
        return x.magnitude == y.magnitude && x.exponent == y.exponent && x.negative == y.negative
    }

    /// Hashes the normalized value, so equal values hash alike.
    public func hash(into hasher: inout Hasher) {
        let n = normalized
        hasher.combine(n.magnitude)
        hasher.combine(n.exponent)
        hasher.combine(n.negative)
    }

    /// The nearest Double.
    public var doubleValue: Double {
        var v = Double(magnitude)
        if exponent >= 0 {
            for _ in 0..<exponent { v *= 10 }
        } else {
            var d = 1.0
            for _ in 0..<(-exponent) { d *= 10 }
            v /= d
        }
        return negative ? -v : v
    }

    /// The exact decimal text, without trailing fraction zeros (`55.3`, `-0.005`, `55300`).
    public var description: String {
        var buffer = JSONBuffer(capacity: 64)
        buffer.decimal(self)
        return String(decoding: buffer.bytes, as: UTF8.self)
    }
}
