/// A growing UTF-8 buffer that JSON is written into, fast and without Foundation.
public struct JSONBuffer: Sendable {
    /// The bytes written so far.
    public var bytes: [UInt8]

    /// An empty buffer with room for `capacity` bytes.
    public init(capacity: Int = 4096) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends raw ASCII/UTF-8 text as is.
    @inline(__always)
    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// `"name":` as UTF-8 bytes, for keys written many times.
    public static func keyBytes(_ name: String) -> [UInt8] {
        var buffer = JSONBuffer(capacity: name.utf8.count + 4)
        buffer.key(name)
        return buffer.bytes
    }

    /// Appends bytes prepared earlier (a key from `keyBytes`).
    @inline(__always)
    public mutating func append(_ prepared: [UInt8]) {
        bytes.append(contentsOf: prepared)
    }

    /// Appends a JSON string literal, escaped.
    public mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            // Fast path: nothing to escape.
            if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                bytes.append(contentsOf: utf8)
                return
            }
            for b in utf8 {
                switch b {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
                case 0x0A: bytes.append(contentsOf: [92, UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [92, UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [92, UInt8(ascii: "t")])
                case 0..<0x20:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
                default: bytes.append(b)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends an object key and its colon.
    @inline(__always)
    public mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Appends a signed integer.
    public mutating func int(_ value: Int64) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            uint(value.magnitude)
        } else {
            uint(UInt64(value))
        }
    }

    /// Appends an unsigned integer.
    @inline(__always)
    public mutating func uint(_ value: UInt64) {
        DecimalDigits.append(value, to: &bytes)
    }

    /// Appends a point value as JSON (`null`, a number or a string).
    public mutating func value(_ value: PointValue) {
        switch value {
        case .null: raw("null")
        case .int(let v): int(v)
        case .uint(let v): uint(v)
        case .decimal(let d): d.appendText(to: &bytes)
        case .float32(let f):
            if f.isFinite { bytes.append(contentsOf: f.description.utf8) } else { raw("null") }
        case .float64(let d):
            if d.isFinite { bytes.append(contentsOf: d.description.utf8) } else { raw("null") }
        case .string(let s): string(s)
        }
    }

    /// Appends a byte.
    @inline(__always)
    public mutating func byte(_ b: UInt8) { bytes.append(b) }
}
