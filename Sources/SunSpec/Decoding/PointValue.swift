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
    /// The power of ten (the scale factor).
    public let exponent: Int

    /// Creates `raw * 10^exponent`.
    public init(_ raw: Int64, exponent: Int) {
        self.magnitude = raw.magnitude
        self.negative = raw < 0
        self.exponent = exponent
    }

    /// Creates `raw * 10^exponent` for an unsigned raw value.
    public init(unsigned raw: UInt64, exponent: Int) {
        self.magnitude = raw
        self.negative = false
        self.exponent = exponent
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
        var bytes: [UInt8] = []
        appendText(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the exact decimal text as UTF-8.
    public func appendText(to out: inout [UInt8]) {
        if magnitude == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        // Written right to left into a scratch buffer, then appended in one copy.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buf in
            var i = 64
            var m = magnitude
            var e = exponent
            while e < 0 && m % 10 == 0 {  // trailing zeros of the fraction
                m /= 10
                e += 1
            }
            if e >= 0 {
                for _ in 0..<min(e, 40) {
                    i -= 1
                    buf[i] = UInt8(ascii: "0")
                }
                while m > 0 {
                    i -= 1
                    buf[i] = UInt8(ascii: "0") &+ UInt8(m % 10)
                    m /= 10
                }
            } else {
                for _ in 0..<min(-e, 40) {
                    i -= 1
                    buf[i] = UInt8(ascii: "0") &+ UInt8(m % 10)
                    m /= 10
                }
                i -= 1
                buf[i] = UInt8(ascii: ".")
                if m == 0 {
                    i -= 1
                    buf[i] = UInt8(ascii: "0")
                }
                while m > 0 {
                    i -= 1
                    buf[i] = UInt8(ascii: "0") &+ UInt8(m % 10)
                    m /= 10
                }
            }
            if negative {
                i -= 1
                buf[i] = UInt8(ascii: "-")
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[i..<64]))
        }
    }
}

/// Writing unsigned integers as decimal digits straight into a byte buffer.
enum DecimalDigits {
    /// Appends the decimal digits of `value`.
    @inline(__always)
    static func append(_ value: UInt64, to out: inout [UInt8]) {
        if value < 10 {
            out.append(UInt8(ascii: "0") &+ UInt8(value))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buf in
            var i = 24
            var v = value
            while v > 0 {
                i -= 1
                buf[i] = UInt8(ascii: "0") &+ UInt8(v % 10)
                v /= 10
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[i..<24]))
        }
    }
}
