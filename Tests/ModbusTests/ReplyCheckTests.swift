import Foundation
import Modbus
import Testing

@Suite("only the answer to the request")
struct ReplyCheckTests {
    let request = ReadFrame(unit: 1, kind: .holding, address: 40070, count: 2, transaction: 0x1234)

    @Test("the TCP request carries our transaction id, protocol 0, length 6 and the unit")
    func tcpRequest() {
        #expect(request.tcpRequest == [0x12, 0x34, 0, 0, 0, 6, 1, 3, 0x9C, 0x86, 0, 2])
        #expect(request.rawRequest == [1, 3, 0x9C, 0x86, 0, 2])
    }

    @Test(
        "a TCP reply that is not the answer is a mismatch, never registers",
        arguments: [
            ([0x12, 0x35, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2], "transaction id 4661, not 4660"),
            ([0x02, 0x34, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2], "transaction id 564, not 4660"),
            ([0x12, 0x34, 0, 1, 0, 7, 1, 3, 4, 0, 1, 0, 2], "protocol id 1, not 0"),
            ([0x12, 0x34, 0, 0, 0, 9, 1, 3, 4, 0, 1, 0, 2], "MBAP length 9 for 7 bytes"),
            ([0x12, 0x34, 0, 0, 0, 7, 2, 3, 4, 0, 1, 0, 2], "a reply from unit 2, not 1"),
            ([0x12, 0x34, 0, 0, 0, 7, 1, 4, 4, 0, 1, 0, 2], "function 4 in the reply to function 3"),
            ([0x12, 0x34, 0, 0, 0, 5, 1, 3, 2, 0, 1], "2 bytes of data for 2 registers"),
            ([0x12, 0x34, 0, 0, 0, 4, 1, 0x83, 2, 0], "an exception reply of 3 bytes"),
        ] as [([UInt8], String)])
    func tcpMismatch(reply: [UInt8], why: String) {
        #expect(request.checkTCP(reply[...]) == .mismatch(why))
    }

    @Test("a reply to one of the 16 requests before is an earlier one (dropped while waiting), not a mismatch")
    func earlier() {
        #expect(request.checkTCP([0x12, 0x33, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2][...]) == .earlier(0x1233))
        #expect(request.checkTCP([0x12, 0x24, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2][...]) == .earlier(0x1224))
        #expect(request.checkTCP([0x12, 0x23, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2][...]) == .mismatch("transaction id 4643, not 4660"))
    }

    @Test("the answer gives its registers; an exception for this request gives its code")
    func answers() {
        #expect(request.checkTCP([0x12, 0x34, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2][...]) == .registers([1, 2]))
        #expect(request.checkTCP([0x12, 0x34, 0, 0, 0, 3, 1, 0x83, 2][...]) == .exception(2))
        #expect(request.checkRTU([1, 3, 4, 0, 1, 0, 2, 0xAA, 0xBB][...]) == .registers([1, 2]))
        #expect(request.checkRTU([7, 3, 4, 0, 1, 0, 2, 0xAA, 0xBB][...]) == .mismatch("a reply from unit 7, not 1"))
    }

    @Test("a reply from another unit is an error and the connection is reopened; the next answer is read")
    func wrongUnit() async throws {
        let server = try RogueServer { request, index in
            index == 0 ? RogueServer.reply(to: request, unit: request[6] &+ 1) : RogueServer.reply(to: request)
        }
        defer { server.stop() }
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .milliseconds(500))
        let error = await #expect(throws: ModbusError.self) { try await link.read(unit: 1, address: 100, count: 2) }
        #expect(error?.kind == .badResponse("not the answer to this request: a reply from unit 2, not 1"))
        #expect(try await link.read(unit: 1, address: 100, count: 2) == [RogueServer.value(100), RogueServer.value(101)])
        #expect(link.mismatchedReplies == 1)
    }

    @Test("units 248-254 go on the wire over TCP as they are")
    func highUnits() async throws {
        let server = try RogueServer { request, _ in
            request[6] == 250 ? RogueServer.reply(to: request) : []
        }
        defer { server.stop() }
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .milliseconds(500))
        #expect(try await link.read(unit: 250, address: 7, count: 1) == [RogueServer.value(7)])
        let refused = await #expect(throws: ModbusError.self) { try await link.read(unit: 256, address: 7, count: 1) }
        #expect(refused?.kind == .invalidRequest("unit 256 cannot be addressed on 127.0.0.1:\(server.port)"))
    }

    @Test("a reply sent twice: the second copy is dropped before the next request, never taken as its answer")
    func duplicate() async throws {
        let server = try RogueServer { request, _ in
            let one = RogueServer.reply(to: request)
            return one + one
        }
        defer { server.stop() }
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .milliseconds(500))
        #expect(try await link.read(unit: 1, address: 10, count: 1) == [RogueServer.value(10)])
        // Let the copy arrive before the next request goes out.
        for _ in 0..<100 where link.droppedStaleBytes == 0 {
            #expect(try await link.read(unit: 1, address: 20, count: 1) == [RogueServer.value(20)])
        }
        #expect(link.droppedStaleBytes > 0)
        #expect(link.mismatchedReplies == 0)
    }

    @Test("a copy that arrives after the next request went out carries the old transaction id: dropped, the answer taken")
    func lateDuplicate() async throws {
        let server = try RogueServer { request, index in
            // The first reply is sent twice, the copy only in front of the second request's answer.
            index == 1
                ? RogueServer.reply(to: request, transaction: UInt16(request[0]) << 8 | UInt16(request[1]) &- 1)
                    + RogueServer.reply(to: request)
                : RogueServer.reply(to: request)
        }
        defer { server.stop() }
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .milliseconds(500))
        #expect(try await link.read(unit: 1, address: 10, count: 1) == [RogueServer.value(10)])
        #expect(try await link.read(unit: 1, address: 20, count: 1) == [RogueServer.value(20)])
        #expect(link.droppedEarlierReplies == 1)
        #expect(link.mismatchedReplies == 0)
        #expect(try await link.read(unit: 1, address: 30, count: 1) == [RogueServer.value(30)])
    }
}
