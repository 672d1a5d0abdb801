/// Encoding of one point's raw value into registers, big-endian, high word first; null becomes the
/// type's not-implemented value.
public enum PointEncoding {
    /// The registers for a raw value of a point.
    public static func encode(_ value: RawValue, as point: PointDefinition) throws(EncodingError) -> [UInt16] {
        let type = point.type
        if case .null = value { return notImplemented(type, size: point.size) }
        switch type {
        case .string:
            guard case .string(let text) = value else { throw mismatch(point, value) }
            var bytes = Array(text.utf8.prefix(point.size * 2))
            bytes += [UInt8](repeating: 0, count: point.size * 2 - bytes.count)
            return stride(from: 0, to: bytes.count, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        case .float32:
            guard let d = number(value) else { throw mismatch(point, value) }
            return words(UInt64(Float(d).bitPattern), 2)
        case .float64:
            guard let d = number(value) else { throw mismatch(point, value) }
            return words(Double(d).bitPattern, 4)
        case .ipaddr:
            if case .string(let text) = value {
                let parts = text.split(separator: ".").compactMap { UInt32($0) }
                guard parts.count == 4, parts.allSatisfy({ $0 < 256 }) else { throw mismatch(point, value) }
                return words(UInt64(parts.reduce(0) { $0 << 8 | $1 }), 2)
            }
            guard case .int(let n) = value, (0...Int64(UInt32.max)).contains(n) else { throw mismatch(point, value) }
            return words(UInt64(n), 2)
        case .ipv6addr:
            guard case .string(let text) = value else { throw mismatch(point, value) }
            let hex = text.filter { $0 != ":" }
            guard hex.count == 32, let _ = UInt64(hex.prefix(16), radix: 16), let _ = UInt64(hex.suffix(16), radix: 16) else {
                throw mismatch(point, value)
            }
            return words(UInt64(hex.prefix(16), radix: 16)!, 4) + words(UInt64(hex.suffix(16), radix: 16)!, 4)
        case .eui48:
            guard case .string(let text) = value else { throw mismatch(point, value) }
            let hex = text.filter { $0 != ":" && $0 != "-" }
            guard hex.count == 12, let v = UInt64(hex, radix: 16) else { throw mismatch(point, value) }
            return words(v, 4)
        default:
            let count = point.size
            let bits = count * 16
            switch value {
            case .int(let n):
                if type.isSigned {
                    let lo: Int64 = bits == 64 ? Int64.min : -(1 << (bits - 1))
                    let hi: Int64 = bits == 64 ? Int64.max : (1 << (bits - 1)) - 1
                    guard n >= lo && n <= hi else { throw mismatch(point, value) }
                } else {
                    guard n >= 0 && UInt64(n) <= unsignedMax(bits) else { throw mismatch(point, value) }
                }
                return words(UInt64(bitPattern: n), count)
            case .uint(let n):
                // Above Int64.max: only an unsigned point of 64 bits holds it.
                guard !type.isSigned, n <= unsignedMax(bits) else { throw mismatch(point, value) }
                return words(n, count)
            default:
                throw mismatch(point, value)
            }
        }
    }

    /// The largest value an unsigned point of `bits` bits holds.
    static func unsignedMax(_ bits: Int) -> UInt64 {
        bits >= 64 ? UInt64.max : (1 << UInt64(bits)) - 1
    }

    /// The registers of a not-implemented value of a type.
    public static func notImplemented(_ type: PointType, size: Int) -> [UInt16] {
        switch type {
        case .int16, .sunssf, .pad: [0x8000]
        case .uint16, .count, .enum16, .bitfield16: [0xFFFF]
        case .acc16: [0]
        case .int32: [0x8000, 0]
        case .uint32, .enum32, .bitfield32: [0xFFFF, 0xFFFF]
        case .acc32, .ipaddr: [0, 0]
        case .int64: [0x8000, 0, 0, 0]
        case .uint64, .bitfield64: [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF]
        case .acc64: [0, 0, 0, 0]
        case .float32: [0x7FC0, 0]
        case .float64: [0x7FF8, 0, 0, 0]
        case .string: [UInt16](repeating: 0, count: size)
        case .ipv6addr: [UInt16](repeating: 0, count: 8)
        case .eui48: [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF]
        }
    }

    static func words(_ v: UInt64, _ count: Int) -> [UInt16] {
        (0..<count).map { UInt16(truncatingIfNeeded: v >> UInt64(16 * (count - 1 - $0))) }
    }

    static func number(_ v: RawValue) -> Double? {
        switch v {
        case .int(let n): Double(n)
        case .uint(let n): Double(n)
        case .double(let d): d
        default: nil
        }
    }

    static func mismatch(_ point: PointDefinition, _ value: RawValue) -> EncodingError {
        EncodingError("point \(point.name): \(value) is not a valid \(point.type.rawValue)")
    }
}
