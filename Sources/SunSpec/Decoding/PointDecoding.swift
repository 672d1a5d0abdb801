/// Decoding of one point's registers: big-endian, high word first; not-implemented values become null.
enum PointDecoding {
    /// The public value of a point's registers.
    static func decode(_ type: PointType, _ r: UnsafeBufferPointer<UInt16>, _ at: Int, _ size: Int) -> PointValue {
        stored(type, r, at, size).resolved(ArraySlice(r))
    }

    /// The stored value of a point's registers; text points are checked for "not implemented" and
    /// otherwise kept as a reference to their registers.
    @inline(__always)
    static func stored(_ type: PointType, _ r: UnsafeBufferPointer<UInt16>, _ at: Int, _ size: Int) -> StoredValue {
        switch type {
        case .int16:
            let v = Int16(bitPattern: r[at])
            return v == Int16.min ? .null : .int(Int64(v))
        case .sunssf:
            let v = Int16(bitPattern: r[at])
            return v == Int16.min ? .null : .int(Int64(v))
        case .uint16, .count, .enum16, .bitfield16:
            return r[at] == 0xFFFF ? .null : .uint(UInt64(r[at]))
        case .acc16:
            return r[at] == 0 ? .null : .uint(UInt64(r[at]))
        case .pad:
            return .null
        case .int32:
            let v = Int32(bitPattern: u32(r, at))
            return v == Int32.min ? .null : .int(Int64(v))
        case .uint32, .enum32, .bitfield32:
            let v = u32(r, at)
            return v == UInt32.max ? .null : .uint(UInt64(v))
        case .acc32:
            let v = u32(r, at)
            return v == 0 ? .null : .uint(UInt64(v))
        case .int64:
            let v = Int64(bitPattern: u64(r, at))
            return v == Int64.min ? .null : .int(v)
        case .uint64, .bitfield64:
            let v = u64(r, at)
            return v == UInt64.max ? .null : .uint(v)
        case .acc64:
            let v = u64(r, at)
            return v == 0 ? .null : .uint(v)
        case .float32:
            let f = Float(bitPattern: u32(r, at))
            return f.isNaN ? .null : .float32(f)
        case .float64:
            let d = Double(bitPattern: u64(r, at))
            return d.isNaN ? .null : .float64(d)
        case .string:
            return r[at] >> 8 == 0 ? .null : .text(.string, at: Int32(at), size: Int32(size))
        case .ipaddr:
            return u32(r, at) == 0 ? .null : .text(.ipaddr, at: Int32(at), size: 2)
        case .ipv6addr:
            for i in at..<(at + 8) where r[i] != 0 { return .text(.ipv6addr, at: Int32(at), size: 8) }
            return .null
        case .eui48:
            // Four registers: the first two bytes are unused, then the six address bytes.
            if r[at + 1] == 0xFFFF && r[at + 2] == 0xFFFF && r[at + 3] == 0xFFFF { return .null }
            return .text(.eui48, at: Int32(at), size: 4)
        }
    }

    /// The text of an implemented text point.
    static func text(_ type: PointType, _ r: UnsafeBufferPointer<UInt16>, _ at: Int, _ size: Int) -> PointValue {
        switch type {
        case .ipaddr:
            let v = u32(r, at)
            return .string("\(v >> 24).\((v >> 16) & 0xFF).\((v >> 8) & 0xFF).\(v & 0xFF)")
        case .ipv6addr:
            return ipv6(r, at)
        case .eui48:
            let bytes = (0..<6).map { i -> UInt8 in
                let word = r[at + 1 + i / 2]
                return i % 2 == 0 ? UInt8(word >> 8) : UInt8(word & 0xFF)
            }
            return .string(bytes.map { hex2($0) }.joined(separator: ":"))
        default:
            return string(r, at, size)
        }
    }

    @inline(__always)
    static func u32(_ r: UnsafeBufferPointer<UInt16>, _ at: Int) -> UInt32 {
        UInt32(r[at]) << 16 | UInt32(r[at + 1])
    }

    @inline(__always)
    static func u64(_ r: UnsafeBufferPointer<UInt16>, _ at: Int) -> UInt64 {
        UInt64(r[at]) << 48 | UInt64(r[at + 1]) << 32 | UInt64(r[at + 2]) << 16 | UInt64(r[at + 3])
    }

    static func string(_ r: UnsafeBufferPointer<UInt16>, _ at: Int, _ size: Int) -> PointValue {
        if r[at] >> 8 == 0 { return .null }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size * 2)
        for i in at..<(at + size) {
            let hi = UInt8(r[i] >> 8)
            if hi == 0 { break }
            bytes.append(hi)
            let lo = UInt8(r[i] & 0xFF)
            if lo == 0 { break }
            bytes.append(lo)
        }
        // Bytes that are not UTF-8 become U+FFFD; the decode never fails.
        return .string(String(decoding: bytes, as: UTF8.self))
    }

    static func ipv6(_ r: UnsafeBufferPointer<UInt16>, _ at: Int) -> PointValue {
        let words = (0..<8).map { r[at + $0] }
        if words.allSatisfy({ $0 == 0 }) { return .null }
        // RFC 5952: lowercase, no leading zeros, the longest run of two or more zero groups as "::".
        var bestStart = -1, bestLength = 0, i = 0
        while i < 8 {
            if words[i] == 0 {
                var j = i
                while j < 8 && words[j] == 0 { j += 1 }
                if j - i > bestLength && j - i >= 2 { bestStart = i; bestLength = j - i }
                i = j
            } else {
                i += 1
            }
        }
        func text(_ range: Range<Int>) -> String {
            range.map { String(words[$0], radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return .string(text(0..<8)) }
        return .string(text(0..<bestStart) + "::" + text((bestStart + bestLength)..<8))
    }

    static func hex2(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
    }
}
