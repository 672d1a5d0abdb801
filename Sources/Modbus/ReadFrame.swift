/// One read request on the wire and the check of its reply: a reply is taken only if it is the
/// answer to this request (transaction id, protocol id, unit id, function code and length), so a
/// reply meant for another unit or another request is never taken for registers.
///
/// Pure: the frames are bytes in and bytes out; `ModbusLink` sends and receives them.
public struct ReadFrame: Sendable, Equatable {
    /// The unit id on the wire.
    public let unit: UInt8
    /// Function 3 (holding) or 4 (input).
    public let function: UInt8
    /// First register.
    public let address: Int
    /// Registers asked for (1...125).
    public let count: Int
    /// The MBAP transaction id (TCP only).
    public let transaction: UInt16

    /// Creates a request.
    public init(unit: UInt8, kind: RegisterKind, address: Int, count: Int, transaction: UInt16 = 0) {
        self.unit = unit
        self.function = UInt8(kind.functionCode)
        self.address = address
        self.count = count
        self.transaction = transaction
    }

    /// The PDU with the unit id before it: what `modbus_send_raw_request` takes (it adds the CRC on RTU).
    public var rawRequest: [UInt8] {
        [unit, function, UInt8(address >> 8), UInt8(address & 0xFF), UInt8(count >> 8), UInt8(count & 0xFF)]
    }

    /// The whole Modbus TCP ADU: MBAP header (transaction, protocol 0, length 6, unit) and the PDU.
    public var tcpRequest: [UInt8] {
        [UInt8(transaction >> 8), UInt8(transaction & 0xFF), 0, 0, 0, 6] + rawRequest
    }

    /// What a reply turned out to be.
    public enum Reply: Sendable, Equatable {
        /// The registers asked for.
        case registers([UInt16])
        /// A Modbus exception for this request.
        case exception(UInt8)
        /// A well-formed reply to one of the last requests before this one (a copy sent twice, a late
        /// answer): not this request's answer, to be dropped while waiting for it.
        case earlier(UInt16)
        /// Not the answer to this request: why.
        case mismatch(String)

        /// Whether this is a reply to an earlier request.
        public var isEarlier: Bool {
            if case .earlier = self { return true }
            return false
        }
    }

    /// How many requests back a reply may belong to and still be dropped as an earlier one.
    public static let earlierWindow: UInt16 = 16

    /// Checks a Modbus TCP reply (MBAP header included) against this request.
    public func checkTCP(_ reply: ArraySlice<UInt8>) -> Reply {
        checkEnvelope(ReplyEnvelope.tcp(Array(reply), transaction: transaction))
    }

    /// Checks a Modbus RTU reply (unit id first, CRC already checked and still at the end).
    public func checkRTU(_ reply: ArraySlice<UInt8>) -> Reply {
        checkEnvelope(ReplyEnvelope.rtu(Array(reply)))
    }

    private func checkEnvelope(_ envelope: ReplyEnvelope) -> Reply {
        switch envelope {
        case .pdu(let unit, let pdu): checkPDU(unit: unit, pdu: pdu)
        case .earlier(let transaction): .earlier(transaction)
        case .mismatch(let why): .mismatch(why)
        }
    }

    private func checkPDU(unit: UInt8, pdu: ArraySlice<UInt8>) -> Reply {
        guard unit == self.unit else { return .mismatch("a reply from unit \(unit), not \(self.unit)") }
        let p = Array(pdu)
        guard let code = p.first else { return .mismatch("an empty reply") }
        if code == function | 0x80 {
            guard p.count == 2 else { return .mismatch("an exception reply of \(p.count) bytes") }
            return .exception(p[1])
        }
        guard code == function else { return .mismatch("function \(code) in the reply to function \(function)") }
        guard p.count >= 2, Int(p[1]) == 2 * count, p.count == 2 + 2 * count else {
            return .mismatch("\(p.count >= 2 ? Int(p[1]) : 0) bytes of data for \(count) registers")
        }
        var registers = [UInt16](repeating: 0, count: count)
        for i in 0..<count { registers[i] = UInt16(p[2 + 2 * i]) << 8 | UInt16(p[3 + 2 * i]) }
        return .registers(registers)
    }
}
