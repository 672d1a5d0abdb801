import Modbus
import Testing

@Suite("The reply logic, with no I/O")
struct ModbusResponderTests {
    let responder = ModbusResponder(source: TestSource(registers: (0..<300).map { UInt16($0 * 3) }))

    /// A read's body: address and count, big-endian.
    static func read(_ address: Int, _ count: Int) -> [UInt8] {
        [UInt8(address >> 8), UInt8(address & 0xFF), UInt8(count >> 8), UInt8(count & 0xFF)]
    }

    @Test("FC3 and FC4 read the source")
    func reads() {
        #expect(responder.replyPDU(unit: 1, function: 3, body: Self.read(40001, 2)) == [3, 4, 0, 3, 0, 6])
        #expect(responder.replyPDU(unit: 1, function: 4, body: Self.read(40200, 1)) == [4, 2, 0x02, 0x58])
    }

    @Test(
        "writes and other function codes get exception 1",
        arguments: otherRequests)
    func otherFunctions(function: UInt8, body: [UInt8]) {
        #expect(responder.replyPDU(unit: 1, function: function, body: body) == [function | 0x80, 1])
    }

    /// Function codes and bodies that are not reads: write single, write multiple, device identification, read coils.
    static let otherRequests: [(UInt8, [UInt8])] = [
        (6, [0x9C, 0x40, 0, 1]), (0x10, [0x9C, 0x40, 0, 1, 2, 0, 1]), (0x2B, [0x0E, 1, 0]), (1, read(0, 8)),
    ]

    @Test("a count outside 1...125 or a short body is exception 3; a read past 65535 is exception 2")
    func badRequests() {
        #expect(responder.replyPDU(unit: 1, function: 3, body: Self.read(40000, 0)) == [0x83, 3])
        #expect(responder.replyPDU(unit: 1, function: 4, body: Self.read(40000, 126)) == [0x84, 3])
        #expect(responder.replyPDU(unit: 1, function: 3, body: [0x9C, 0x40, 0]) == [0x83, 3])
        #expect(responder.replyPDU(unit: 1, function: 3, body: Self.read(65535, 2)) == [0x83, 2])
        #expect(responder.replyPDU(unit: 1, function: 3, body: Self.read(65500, 125)) == [0x83, 2])
        #expect(responder.replyPDU(unit: 1, function: 3, body: Self.read(0, 126)) == [0x83, 3])
    }

    @Test("the source's exceptions pass through; a wrong number of registers from it is exception 4")
    func sourceAnswers() {
        #expect(responder.replyPDU(unit: 7, function: 3, body: Self.read(40000, 1)) == [0x83, 0x0B])
        #expect(responder.replyPDU(unit: 1, function: 3, body: Self.read(40290, 20)) == [0x83, 2])
        let short = ModbusResponder(source: ShortSource())
        #expect(short.replyPDU(unit: 1, function: 3, body: Self.read(0, 2)) == [0x83, 4])
    }
}

/// Answers one register fewer than asked for.
struct ShortSource: RegisterSource {
    func read(unit: UInt8, kind: RegisterKind, address: Int, count: Int) -> ServerReply {
        .registers(Array(repeating: 0, count: count - 1))
    }
}
