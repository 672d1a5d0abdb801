/// The envelope of a reply, checked before its PDU: on TCP the MBAP header (protocol id 0, a length
/// that matches, this request's transaction id or one of the last few before it), on RTU the frame's
/// size. Shared by `ReadFrame` and `WriteFrame`.
enum ReplyEnvelope {
    /// The reply's unit id and PDU, for the frame to check.
    case pdu(unit: UInt8, pdu: ArraySlice<UInt8>)
    /// A well-formed reply to an earlier request.
    case earlier(UInt16)
    /// Not the answer to this request: why.
    case mismatch(String)

    /// A Modbus TCP reply (MBAP header included) to the request with `transaction`.
    static func tcp(_ r: [UInt8], transaction: UInt16) -> ReplyEnvelope {
        guard r.count >= 9 else { return .mismatch("a reply of \(r.count) bytes") }
        let received = UInt16(r[0]) << 8 | UInt16(r[1])
        let protocolID = UInt16(r[2]) << 8 | UInt16(r[3])
        let length = Int(r[4]) << 8 | Int(r[5])
        guard protocolID == 0 else { return .mismatch("protocol id \(protocolID), not 0") }
        guard length == r.count - 6 else { return .mismatch("MBAP length \(length) for \(r.count - 6) bytes") }
        guard received == transaction else {
            let behind = transaction &- received
            return (1...ReadFrame.earlierWindow).contains(behind)
                ? .earlier(received) : .mismatch("transaction id \(received), not \(transaction)")
        }
        return .pdu(unit: r[6], pdu: r[7...])
    }

    /// A Modbus RTU reply (unit id first, CRC already checked and still at the end).
    static func rtu(_ r: [UInt8]) -> ReplyEnvelope {
        guard r.count >= 5 else { return .mismatch("a reply of \(r.count) bytes") }
        return .pdu(unit: r[0], pdu: r[1..<(r.count - 2)])
    }
}
