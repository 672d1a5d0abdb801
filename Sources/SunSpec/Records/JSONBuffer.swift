/// A growing UTF-8 buffer that JSON records are written into, fast and without Foundation.
///
/// Writes go straight to memory it owns (no per-append uniqueness or bounds bookkeeping of an
/// Array): records are written for every poll of every device, so this is a hot path. The buffer is
/// `~Copyable`: it is the one owner of its memory, so no copy can write into another's bytes (the
/// compiler refuses a copy); writers take it `inout`, and the memory is freed when it goes away.
public struct JSONBuffer: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Bytes written so far.
    public private(set) var count = 0

    /// An empty buffer with room for `capacity` bytes to start with.
    public init(capacity: Int = 4096) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// A copy of the bytes written so far.
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// The bytes written so far, without copying, for the duration of `body`.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Forgets what was written, keeping the memory.
    public mutating func removeAll() {
        count = 0
    }

    @inline(__always)
    private mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(to: max(capacity * 2, count + n)) }
    }

    private mutating func grow(to newCapacity: Int) {
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = newCapacity
    }

    // MARK: - Writing

    /// Appends a byte.
    @inline(__always)
    public mutating func byte(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    /// Appends bytes.
    @inline(__always)
    public mutating func append(_ source: UnsafeBufferPointer<UInt8>) {
        reserve(source.count)
        (base + count).update(from: source.baseAddress!, count: source.count)
        count += source.count
    }

    /// Appends bytes prepared earlier (a key from `keyBytes`).
    @inline(__always)
    public mutating func append(_ prepared: [UInt8]) {
        prepared.withUnsafeBufferPointer { append($0) }
    }

    /// Appends raw ASCII/UTF-8 text as is.
    @inline(__always)
    public mutating func raw(_ text: StaticString) {
        append(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// `"name":` as UTF-8 bytes, for keys written many times.
    public static func keyBytes(_ name: String) -> [UInt8] {
        var buffer = JSONBuffer(capacity: name.utf8.count + 8)
        buffer.key(name)
        return buffer.bytes
    }

    /// Appends a JSON string literal, escaped.
    public mutating func string(_ text: String) {
        byte(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            // Fast path: nothing to escape.
            if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                append(utf8)
                return
            }
            let hex: StaticString = "0123456789abcdef"
            for b in utf8 {
                switch b {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case 0x0A: raw("\\n")
                case 0x0D: raw("\\r")
                case 0x09: raw("\\t")
                case 0..<0x20:
                    raw("\\u00")
                    byte(hex.utf8Start[Int(b >> 4)])
                    byte(hex.utf8Start[Int(b & 0xF)])
                default: byte(b)
                }
            }
        }
        byte(UInt8(ascii: "\""))
    }

    /// Appends an object key and its colon.
    public mutating func key(_ name: String) {
        string(name)
        byte(UInt8(ascii: ":"))
    }

    /// Appends a signed integer.
    public mutating func int(_ value: Int64) {
        if value < 0 {
            byte(UInt8(ascii: "-"))
            uint(value.magnitude)
        } else {
            uint(UInt64(value))
        }
    }

    /// Appends an unsigned integer.
    public mutating func uint(_ value: UInt64) {
        reserve(20)
        var v = value
        let digits = Self.digitCount(value)
        _ = writeDigits(&v, before: count + digits)
        count += digits
    }

    /// Appends an exact decimal: no exponent, no trailing fraction zeros (`55.3`, `-0.005`, `55300`).
    public mutating func decimal(_ d: ExactDecimal) {
        var m = d.magnitude
        var e = d.exponent
        while e < 0 && m % 10 == 0 && m != 0 {  // trailing zeros of the fraction
            m /= 10
            e += 1
        }
        guard m != 0 else {
            byte(UInt8(ascii: "0"))
            return
        }
        reserve(64)
        if d.negative {
            base[count] = UInt8(ascii: "-")
            count += 1
        }
        if e >= 0 {
            uint(m)
            for _ in 0..<min(e, 40) {
                base[count] = UInt8(ascii: "0")
                count += 1
            }
            return
        }
        // Integer part ("0" when all digits are in the fraction), point, leading fraction zeros, digits.
        let fraction = min(-e, 40)
        let digits = Self.digitCount(m)
        let width = (digits > fraction ? digits : fraction + 1) + 1
        var v = m
        var i = writeDigits(&v, before: count + width, count: fraction)
        i -= 1
        base[i] = UInt8(ascii: ".")
        _ = writeDigits(&v, before: i)
        count += width
    }

    /// Decimal digits of `v` (1 for 0).
    @inline(__always)
    static func digitCount(_ v: UInt64) -> Int {
        var n = 1
        var x = v
        while x >= 10 {
            n += 1
            x /= 10
        }
        return n
    }

    /// Writes digits of `v` right to left, ending just before `end`: `count` of them (leading zeros
    /// included), or all (at least one) when nil; `v` keeps the digits not written. Returns the
    /// index of the first digit written.
    @inline(__always)
    private func writeDigits(_ v: inout UInt64, before end: Int, count n: Int? = nil) -> Int {
        var i = end
        var written = 0
        repeat {
            i -= 1
            base[i] = UInt8(ascii: "0") &+ UInt8(v % 10)
            v /= 10
            written += 1
        } while n.map { written < $0 } ?? (v > 0)
        return i
    }

    /// Appends a point value as JSON (`null`, a number or a string).
    public mutating func value(_ value: PointValue) {
        switch value {
        case .string(let s): string(s)
        case .null: raw("null")
        case .int(let v): int(v)
        case .uint(let v): uint(v)
        case .decimal(let d): decimal(d)
        case .float32(let f): float(f)
        case .float64(let d): float(d)
        }
    }

    /// Appends a stored value; text is read from the model's registers.
    @inline(__always)
    mutating func value(_ stored: StoredValue, _ registers: UnsafeBufferPointer<UInt16>) {
        switch stored {
        case .text(let type, let at, let size): value(PointDecoding.text(type, registers, Int(at), Int(size)))
        case .null: raw("null")
        case .int(let v): int(v)
        case .uint(let v): uint(v)
        case .decimal(let d): decimal(d)
        case .float32(let f): float(f)
        case .float64(let d): float(d)
        }
    }

    /// Appends a float in its shortest round-trip form; infinities (which JSON cannot carry) as null.
    mutating func float<F: BinaryFloatingPoint & LosslessStringConvertible>(_ f: F) {
        guard f.isFinite else {
            raw("null")
            return
        }
        var text = f.description
        text.withUTF8 { append($0) }
    }
}
