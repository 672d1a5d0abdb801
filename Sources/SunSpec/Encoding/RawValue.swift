/// A raw (unscaled) value as pysunspec2's `get_dict(computed=False)` or a profile gives it: the
/// input of encoding.
public indirect enum RawValue: Sendable, Equatable {
    case null
    case int(Int64)
    /// An integer above `Int64.max` (a uint64 or acc64 of 2^63 or more, up to its not-implemented
    /// 0xFFFFFFFFFFFFFFFF); smaller integers are `int`.
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([RawValue])
    case object([String: RawValue])
}

/// A value that cannot be encoded as its point's type, naming where it is.
public struct EncodingError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and where.
    public let message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
