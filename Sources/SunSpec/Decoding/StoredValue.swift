/// A decoded value as the decoder stores it: plain data, cheap to copy and to free. Text points
/// (string, ipaddr, ipv6addr, eui48) keep where their registers are and are read out on demand, so
/// decoding a model allocates only its one array of values.
enum StoredValue: Sendable, Equatable {
    case null
    case int(Int64)
    case uint(UInt64)
    case decimal(ExactDecimal)
    case float32(Float)
    case float64(Double)
    /// A text point of `type` at register `at` of the model's window, `size` registers long.
    case text(PointType, at: Int32, size: Int32)

    /// The value as an Int64, for integers that fit.
    var intValue: Int64? {
        switch self {
        case .int(let v): v
        case .uint(let v): v <= UInt64(Int64.max) ? Int64(v) : nil
        default: nil
        }
    }

    /// The public value, text read out of `registers` (the model's window, from its ID register).
    func resolved(_ registers: ArraySlice<UInt16>) -> PointValue {
        switch self {
        case .null: .null
        case .int(let v): .int(v)
        case .uint(let v): .uint(v)
        case .decimal(let d): .decimal(d)
        case .float32(let f): .float32(f)
        case .float64(let d): .float64(d)
        case .text(let type, let at, let size):
            registers.withUnsafeBufferPointer { PointDecoding.text(type, $0, Int(at), Int(size)) }
        }
    }
}
