/// Reads protocol buffers wire format field by field: what the gateway needs of the commands it
/// receives (NCMD, DCMD). Unknown fields are skipped; a malformed message ends the read with nil.
public struct ProtobufReader: Sendable {
    /// One field: its number and its value.
    public enum Field: Sendable, Equatable {
        /// A varint (ints, bools, enums).
        case varint(Int, UInt64)
        /// 8 bytes (double, fixed64).
        case fixed64(Int, UInt64)
        /// Length-delimited (strings, bytes, messages).
        case bytes(Int, ArraySlice<UInt8>)
        /// 4 bytes (float, fixed32).
        case fixed32(Int, UInt32)
    }

    private let data: ArraySlice<UInt8>
    private var at: Int

    /// A reader over these bytes.
    public init(_ data: ArraySlice<UInt8>) {
        self.data = data
        at = data.startIndex
    }

    /// Every field, in order; nil when the bytes are not a well-formed message.
    public static func fields(of data: ArraySlice<UInt8>) -> [Field]? {
        var reader = ProtobufReader(data)
        var out: [Field] = []
        while !reader.atEnd {
            guard let field = reader.next() else { return nil }
            out.append(field)
        }
        return out
    }

    var atEnd: Bool { at >= data.endIndex }

    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while at < data.endIndex, shift < 64 {
            let b = data[at]
            at += 1
            value |= UInt64(b & 0x7f) << shift
            if b < 0x80 { return value }
            shift += 7
        }
        return nil
    }

    mutating func next() -> Field? {
        guard let key = varint(), key >> 3 > 0, key >> 3 <= UInt64(Int32.max) else { return nil }
        let number = Int(key >> 3)
        switch key & 7 {
        case 0:
            return varint().map { .varint(number, $0) }
        case 1:
            guard let raw = fixed(8) else { return nil }
            return .fixed64(number, raw)
        case 2:
            guard let length = varint(), length <= UInt64(data.endIndex - at) else { return nil }
            let slice = data[at..<(at + Int(length))]
            at += Int(length)
            return .bytes(number, slice)
        case 5:
            guard let raw = fixed(4) else { return nil }
            return .fixed32(number, UInt32(raw))
        default:
            return nil
        }
    }

    private mutating func fixed(_ count: Int) -> UInt64? {
        guard data.endIndex - at >= count else { return nil }
        var v: UInt64 = 0
        for k in 0..<count { v |= UInt64(data[at + k]) << (8 * UInt64(k)) }
        at += count
        return v
    }
}
