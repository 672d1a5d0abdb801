import Modbus
import Synchronization
import Testing

/// Registers 40000..<40300 of unit 1 that take writes; other units answer 0x0B, past the end 2.
final class WritableTestSource: WritableRegisterSource {
    let registers: Mutex<[UInt16]>
    /// Each write taken: address and values.
    let writes = Mutex<[WriteRequest]>([])

    init(registers: [UInt16] = (0..<300).map { UInt16($0 * 3) }) {
        self.registers = Mutex(registers)
    }

    func read(unit: UInt8, kind: RegisterKind, address: Int, count: Int) -> ServerReply {
        guard unit == 1 else { return .exception(0x0B) }
        return registers.withLock { r in
            guard address >= 40000, address + count <= 40000 + r.count else { return .exception(2) }
            return .registers(Array(r[(address - 40000)..<(address - 40000 + count)]))
        }
    }

    func write(unit: UInt8, address: Int, registers values: [UInt16]) -> ServerWriteReply {
        guard unit == 1 else { return .exception(0x0B) }
        return registers.withLock { r in
            guard address >= 40000, address + values.count <= 40000 + r.count else { return .exception(2) }
            r.replaceSubrange((address - 40000)..<(address - 40000 + values.count), with: values)
            writes.withLock {
                $0.append(WriteRequest(function: values.count == 1 ? .single : .multiple, address: address, registers: values))
            }
            return .written
        }
    }
}

@Suite("write requests and their replies, with no I/O")
struct WriteFrameTests {
    let single = WriteFrame(unit: 1, function: .single, address: 40279, registers: [2500], transaction: 0x1234)
    let multiple = WriteFrame(unit: 1, function: .multiple, address: 40279, registers: [2500, 0xFFFF], transaction: 0x1234)

    @Test("FC6 and FC16 requests: PDU, and the TCP ADU with our transaction id and its length")
    func requests() {
        #expect(single.rawRequest == [1, 6, 0x9D, 0x57, 0x09, 0xC4])
        #expect(single.tcpRequest == [0x12, 0x34, 0, 0, 0, 6, 1, 6, 0x9D, 0x57, 0x09, 0xC4])
        #expect(multiple.rawRequest == [1, 0x10, 0x9D, 0x57, 0, 2, 4, 0x09, 0xC4, 0xFF, 0xFF])
        #expect(multiple.tcpRequest == [0x12, 0x34, 0, 0, 0, 11, 1, 0x10, 0x9D, 0x57, 0, 2, 4, 0x09, 0xC4, 0xFF, 0xFF])
    }

    @Test("the reply must echo: FC6 address and value, FC16 address and count")
    func echo() {
        #expect(single.checkTCP([0x12, 0x34, 0, 0, 0, 6, 1, 6, 0x9D, 0x57, 0x09, 0xC4][...]) == .written)
        #expect(single.checkTCP([0x12, 0x34, 0, 0, 0, 6, 1, 6, 0x9D, 0x57, 0x09, 0xC5][...]) == .mismatch("value 2501 echoed, not 2500"))
        #expect(
            single.checkTCP([0x12, 0x34, 0, 0, 0, 6, 1, 6, 0x9D, 0x58, 0x09, 0xC4][...]) == .mismatch("address 40280 echoed, not 40279"))
        #expect(multiple.checkTCP([0x12, 0x34, 0, 0, 0, 6, 1, 0x10, 0x9D, 0x57, 0, 2][...]) == .written)
        #expect(multiple.checkTCP([0x12, 0x34, 0, 0, 0, 6, 1, 0x10, 0x9D, 0x57, 0, 1][...]) == .mismatch("count 1 echoed, not 2"))
        #expect(multiple.checkRTU([1, 0x10, 0x9D, 0x57, 0, 2, 0xAA, 0xBB][...]) == .written)
        #expect(single.checkRTU([1, 6, 0x9D, 0x57, 0x09, 0xC4, 0xAA, 0xBB][...]) == .written)
    }

    @Test(
        "a TCP reply that is not the answer is a mismatch, never written",
        arguments: [
            ([0x12, 0x35, 0, 0, 0, 6, 1, 6, 0x9D, 0x57, 0x09, 0xC4], "transaction id 4661, not 4660"),
            ([0x12, 0x34, 0, 1, 0, 6, 1, 6, 0x9D, 0x57, 0x09, 0xC4], "protocol id 1, not 0"),
            ([0x12, 0x34, 0, 0, 0, 7, 1, 6, 0x9D, 0x57, 0x09, 0xC4], "MBAP length 7 for 6 bytes"),
            ([0x12, 0x34, 0, 0, 0, 6, 2, 6, 0x9D, 0x57, 0x09, 0xC4], "a reply from unit 2, not 1"),
            ([0x12, 0x34, 0, 0, 0, 6, 1, 0x10, 0x9D, 0x57, 0, 1], "function 16 in the reply to function 6"),
            ([0x12, 0x34, 0, 0, 0, 5, 1, 6, 0x9D, 0x57, 0x09], "a reply of 4 bytes to function 6, not 5"),
            ([0x12, 0x34, 0, 0, 0, 4, 1, 0x86, 2, 0], "an exception reply of 3 bytes"),
        ] as [([UInt8], String)])
    func mismatch(reply: [UInt8], why: String) {
        #expect(single.checkTCP(reply[...]) == .mismatch(why))
    }

    @Test("an exception for this request gives its code; a reply to one of the 16 before is an earlier one")
    func exceptionAndEarlier() {
        #expect(single.checkTCP([0x12, 0x34, 0, 0, 0, 3, 1, 0x86, 2][...]) == .exception(2))
        #expect(multiple.checkTCP([0x12, 0x34, 0, 0, 0, 3, 1, 0x90, 4][...]) == .exception(4))
        #expect(multiple.checkRTU([1, 0x90, 3, 0xAA, 0xBB][...]) == .exception(3))
        #expect(single.checkTCP([0x12, 0x30, 0, 0, 0, 6, 1, 6, 0x9D, 0x57, 0x09, 0xC4][...]) == .earlier(0x1230))
    }

    // MARK: - A server's side

    @Test("a server reads FC6 and FC16 bodies; malformed ones are exception 3, past 65535 exception 2")
    func parse() {
        #expect(
            WriteRequest.parse(function: .single, body: [0x9D, 0x57, 0x09, 0xC4])
                == .request(WriteRequest(function: .single, address: 40279, registers: [2500])))
        #expect(
            WriteRequest.parse(function: .multiple, body: [0x9D, 0x57, 0, 2, 4, 0x09, 0xC4, 0xFF, 0xFF])
                == .request(WriteRequest(function: .multiple, address: 40279, registers: [2500, 0xFFFF])))
        #expect(WriteRequest.parse(function: .single, body: [0x9D, 0x57, 0x09]) == .exception(3))
        #expect(WriteRequest.parse(function: .single, body: [0x9D, 0x57, 0x09, 0xC4, 0]) == .exception(3))
        #expect(WriteRequest.parse(function: .multiple, body: [0x9D, 0x57, 0, 0, 0]) == .exception(3))  // count 0
        #expect(WriteRequest.parse(function: .multiple, body: [0x9D, 0x57, 0, 2, 3, 0x09, 0xC4, 0xFF]) == .exception(3))  // byte count
        #expect(WriteRequest.parse(function: .multiple, body: [0x9D, 0x57, 0, 2, 4, 0x09, 0xC4]) == .exception(3))  // short
        #expect(
            WriteRequest.parse(function: .multiple, body: [0x9D, 0x57, 0, 124, 248] + [UInt8](repeating: 0, count: 248)) == .exception(3))
        #expect(WriteRequest.parse(function: .multiple, body: [0xFF, 0xFF, 0, 2, 4, 0, 1, 0, 2]) == .exception(2))
        #expect(WriteRequest(function: .single, address: 40279, registers: [2500]).replyPDU == [6, 0x9D, 0x57, 0x09, 0xC4])
        #expect(WriteRequest(function: .multiple, address: 40279, registers: [1, 2, 3]).replyPDU == [0x10, 0x9D, 0x57, 0, 3])
    }

    @Test("the responder writes a writable source: FC6 echoes, FC16 gives address and count; its refusals pass through")
    func responderWrites() {
        let source = WritableTestSource()
        let responder = ModbusResponder(source: source)
        #expect(responder.replyPDU(unit: 1, function: 6, body: [0x9C, 0x41, 0x12, 0x34]) == [6, 0x9C, 0x41, 0x12, 0x34])
        #expect(responder.replyPDU(unit: 1, function: 16, body: [0x9C, 0x42, 0, 2, 4, 0, 7, 0, 8]) == [16, 0x9C, 0x42, 0, 2])
        #expect(responder.replyPDU(unit: 1, function: 3, body: [0x9C, 0x40, 0, 4]) == [3, 8, 0, 0, 0x12, 0x34, 0, 7, 0, 8])
        // 40299 and 40300: the second is past the end.
        #expect(responder.replyPDU(unit: 1, function: 16, body: [0x9D, 0x6B, 0, 2, 4, 0, 7, 0, 8]) == [0x90, 2])
        #expect(responder.replyPDU(unit: 9, function: 6, body: [0x9C, 0x41, 0, 1]) == [0x86, 0x0B])
        #expect(responder.replyPDU(unit: 1, function: 16, body: [0x9C, 0x42, 0, 0, 0]) == [0x90, 3])
        #expect(source.writes.withLock { $0.count } == 2)
    }
}
