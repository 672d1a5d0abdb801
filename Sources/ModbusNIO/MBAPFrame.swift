/// One Modbus TCP application data unit: the MBAP header's transaction id and unit id, and the PDU
/// (function code onwards). The protocol id is always 0; the length field is the PDU's plus one.
struct MBAPFrame: Sendable, Equatable {
    /// The transaction id, echoed in the reply.
    var transaction: UInt16
    /// The unit id.
    var unit: UInt8
    /// The function code and its data.
    var pdu: [UInt8]
}

/// Bytes that are not Modbus TCP: the connection is closed.
enum MBAPFramingError: Error, Equatable {
    /// The protocol id is not 0.
    case protocolID(UInt16)
    /// The length field is outside 2...254 (unit id and function code at least, 253 PDU bytes at most).
    case length(UInt16)
}
