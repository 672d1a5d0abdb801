/// A write request as a server receives it (function 6 or 16), checked: the body of the PDU in, the
/// request or the exception to answer out, and the normal response to it. Pure; `ModbusResponder`
/// and the TCP server's write handler (`ModbusNIO`) both read writes through it.
public struct WriteRequest: Sendable, Equatable {
    /// Write single register (6) or write multiple registers (16).
    public let function: WriteFunction
    /// First register.
    public let address: Int
    /// The values to write (one for function 6).
    public let registers: [UInt16]

    /// A request or the exception that answers a malformed one.
    public enum Parsed: Sendable, Equatable {
        /// A well-formed write.
        case request(WriteRequest)
        /// The exception to answer (3: malformed, a count outside 1...123 or a byte count that
        /// disagrees; 2: registers past 65535).
        case exception(UInt8)
    }

    /// A request (its values checked by its parser, or made by hand for tests).
    public init(function: WriteFunction, address: Int, registers: [UInt16]) {
        self.function = function
        self.address = address
        self.registers = registers
    }

    /// Reads the body (the PDU after its function code) of a request of `function`.
    ///
    /// Modbus application protocol 6.6 and 6.12: function 6 is an address and a value; function
    /// 16 an address, a count of 1...123, a byte count of twice that and the values. Anything else
    /// is exception 3; a valid count that runs past register 65535 is exception 2.
    public static func parse(function: WriteFunction, body: some Collection<UInt8>) -> Parsed {
        let b = Array(body)
        func word(_ at: Int) -> Int { Int(b[at]) << 8 | Int(b[at + 1]) }
        switch function {
        case .single:
            guard b.count == 4 else { return .exception(3) }
            return .request(WriteRequest(function: .single, address: word(0), registers: [UInt16(word(2))]))
        case .multiple:
            guard b.count >= 5 else { return .exception(3) }
            let address = word(0)
            let count = word(2)
            guard (1...123).contains(count), Int(b[4]) == 2 * count, b.count == 5 + 2 * count else { return .exception(3) }
            guard address + count <= 65536 else { return .exception(2) }
            let registers = (0..<count).map { UInt16(word(5 + 2 * $0)) }
            return .request(WriteRequest(function: .multiple, address: address, registers: registers))
        }
    }

    /// The normal response PDU: function 6 echoes address and value, function 16 gives address and count.
    public var replyPDU: [UInt8] {
        let second = function == .single ? Int(registers[0]) : registers.count
        return [function.functionCode, UInt8(address >> 8), UInt8(address & 0xFF), UInt8(second >> 8), UInt8(second & 0xFF)]
    }
}
