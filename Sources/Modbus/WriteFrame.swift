/// One write request on the wire and the check of its reply: a reply is taken only if it is the
/// answer to this request (transaction id, protocol id, unit id, function code, and the echo: for
/// function 6 the address and the value written, for function 16 the address and the count), so a
/// reply meant for another unit or another request is never taken for a write done.
///
/// Pure: the frames are bytes in and bytes out; `ModbusLink` sends and receives them.
public struct WriteFrame: Sendable, Equatable {
    /// The unit id on the wire.
    public let unit: UInt8
    /// Write single register (6) or write multiple registers (16).
    public let function: WriteFunction
    /// First register.
    public let address: Int
    /// The values written: exactly one for `.single`, 1...123 for `.multiple`.
    public let registers: [UInt16]
    /// The MBAP transaction id (TCP only).
    public let transaction: UInt16

    /// Creates a request (for `.single`, `registers` holds exactly one register).
    public init(unit: UInt8, function: WriteFunction, address: Int, registers: [UInt16], transaction: UInt16 = 0) {
        precondition(function == .multiple || registers.count == 1, "write single register writes one register")
        self.unit = unit
        self.function = function
        self.address = address
        self.registers = registers
        self.transaction = transaction
    }

    /// The PDU with the unit id before it: what `modbus_send_raw_request` takes (it adds the CRC on RTU).
    public var rawRequest: [UInt8] {
        var raw: [UInt8] = [unit, function.functionCode, UInt8(address >> 8 & 0xFF), UInt8(address & 0xFF)]
        switch function {
        case .single:
            raw += [UInt8(registers[0] >> 8), UInt8(registers[0] & 0xFF)]
        case .multiple:
            raw += [UInt8(registers.count >> 8 & 0xFF), UInt8(registers.count & 0xFF), UInt8(truncatingIfNeeded: 2 * registers.count)]
            raw.reserveCapacity(raw.count + 2 * registers.count)
            for r in registers { raw += [UInt8(r >> 8), UInt8(r & 0xFF)] }
        }
        return raw
    }

    /// The whole Modbus TCP ADU: MBAP header (transaction, protocol 0, length, unit) and the PDU.
    public var tcpRequest: [UInt8] {
        let raw = rawRequest
        return [UInt8(transaction >> 8), UInt8(transaction & 0xFF), 0, 0, UInt8(raw.count >> 8), UInt8(raw.count & 0xFF)] + raw
    }

    /// What a reply turned out to be.
    public enum Reply: Sendable, Equatable {
        /// The device confirmed the write (the echo matches the request).
        case written
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
        let code = function.functionCode
        guard let first = p.first else { return .mismatch("an empty reply") }
        if first == code | 0x80 {
            guard p.count == 2 else { return .mismatch("an exception reply of \(p.count) bytes") }
            return .exception(p[1])
        }
        guard first == code else { return .mismatch("function \(first) in the reply to function \(code)") }
        guard p.count == 5 else { return .mismatch("a reply of \(p.count) bytes to function \(code), not 5") }
        let echoedAddress = Int(p[1]) << 8 | Int(p[2])
        let echoed = UInt16(p[3]) << 8 | UInt16(p[4])
        guard echoedAddress == address else { return .mismatch("address \(echoedAddress) echoed, not \(address)") }
        switch function {
        case .single:
            guard echoed == registers[0] else { return .mismatch("value \(echoed) echoed, not \(registers[0])") }
        case .multiple:
            guard Int(echoed) == registers.count else { return .mismatch("count \(echoed) echoed, not \(registers.count)") }
        }
        return .written
    }
}
