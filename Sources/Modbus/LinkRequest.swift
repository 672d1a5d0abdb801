/// A request `ModbusLink` puts on the wire and checks the reply of: a read (`ReadFrame`) or a write
/// (`WriteFrame`). The link sends one, receives frames, and takes the first that is its answer.
protocol LinkRequest: Sendable {
    /// What the answer carries (registers read; nothing for a write).
    associatedtype Answer: Sendable
    /// The unit id, function and data: what `modbus_send_raw_request` takes on a serial line.
    var rawRequest: [UInt8] { get }
    /// The whole Modbus TCP ADU, with the link's transaction id.
    var tcpRequest: [UInt8] { get }
    /// What a TCP reply (MBAP header included) is to this request.
    func outcome(tcp reply: ArraySlice<UInt8>) -> LinkOutcome<Answer>
    /// What an RTU reply (unit id first, CRC at the end) is to this request.
    func outcome(rtu reply: ArraySlice<UInt8>) -> LinkOutcome<Answer>
}

/// What a reply is to a request, whatever its function.
enum LinkOutcome<Answer: Sendable> {
    /// The answer.
    case answer(Answer)
    /// A Modbus exception for this request.
    case exception(UInt8)
    /// A reply to an earlier request (transaction id): dropped while waiting.
    case earlier(UInt16)
    /// Not the answer: why.
    case mismatch(String)

    /// Whether this is a reply to an earlier request.
    var isEarlier: Bool {
        if case .earlier = self { return true }
        return false
    }
}

extension ReadFrame: LinkRequest {
    func outcome(tcp reply: ArraySlice<UInt8>) -> LinkOutcome<[UInt16]> { Self.outcome(checkTCP(reply)) }
    func outcome(rtu reply: ArraySlice<UInt8>) -> LinkOutcome<[UInt16]> { Self.outcome(checkRTU(reply)) }

    private static func outcome(_ reply: Reply) -> LinkOutcome<[UInt16]> {
        switch reply {
        case .registers(let registers): .answer(registers)
        case .exception(let code): .exception(code)
        case .earlier(let transaction): .earlier(transaction)
        case .mismatch(let why): .mismatch(why)
        }
    }
}

extension WriteFrame: LinkRequest {
    func outcome(tcp reply: ArraySlice<UInt8>) -> LinkOutcome<Void> { Self.outcome(checkTCP(reply)) }
    func outcome(rtu reply: ArraySlice<UInt8>) -> LinkOutcome<Void> { Self.outcome(checkRTU(reply)) }

    private static func outcome(_ reply: Reply) -> LinkOutcome<Void> {
        switch reply {
        case .written: .answer(())
        case .exception(let code): .exception(code)
        case .earlier(let transaction): .earlier(transaction)
        case .mismatch(let why): .mismatch(why)
        }
    }
}
