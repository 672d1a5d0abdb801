/// The SunSpec point types, with the number of registers each occupies.
public enum PointType: String, Sendable, CaseIterable {
    case int16, uint16, count, acc16, enum16, bitfield16, sunssf, pad
    case int32, uint32, acc32, enum32, bitfield32
    case int64, uint64, acc64, bitfield64
    case float32, float64
    case string, ipaddr, ipv6addr, eui48

    /// Registers a point of this type occupies; `nil` for `string`, whose size the definition gives.
    public var registerCount: Int? {
        switch self {
        case .int16, .uint16, .count, .acc16, .enum16, .bitfield16, .sunssf, .pad: 1
        case .int32, .uint32, .acc32, .enum32, .bitfield32, .float32, .ipaddr: 2
        case .int64, .uint64, .acc64, .bitfield64, .float64, .eui48: 4
        case .ipv6addr: 8
        case .string: nil
        }
    }

    /// Whether values of this type are integers that a scale factor can apply to.
    public var isInteger: Bool {
        switch self {
        case .int16, .uint16, .count, .acc16, .enum16, .bitfield16, .sunssf,
            .int32, .uint32, .acc32, .enum32, .bitfield32,
            .int64, .uint64, .acc64, .bitfield64:
            true
        default: false
        }
    }

    /// Whether the type is signed (two's complement).
    public var isSigned: Bool {
        switch self {
        case .int16, .sunssf, .int32, .int64: true
        default: false
        }
    }
}
