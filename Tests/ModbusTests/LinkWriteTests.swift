import Foundation
import Modbus
import ModbusNIO
import Testing

@Suite("libmodbus link writes", .serialized)
struct LinkWriteTests {
    @Test("FC16 writes a run, FC6 one request per register; the server's registers change; exceptions come back typed")
    func writes() async throws {
        let source = WritableTestSource()
        let server = ModbusServer(port: 0, source: source)
        try await serving(server) { (port: Int) async throws in
            let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: port), timeout: .seconds(1))
            try await link.write(unit: 1, address: 40010, registers: [100, 200, 300])
            #expect(link.transactions == 1)
            try await link.write(unit: 1, address: 40020, registers: [7, 8], function: .single)
            #expect(link.transactions == 3)
            #expect(try await link.read(unit: 1, address: 40010, count: 3) == [100, 200, 300])
            #expect(try await link.read(unit: 1, address: 40020, count: 2) == [7, 8])
            #expect(
                source.writes.withLock { $0 } == [
                    WriteRequest(function: .multiple, address: 40010, registers: [100, 200, 300]),
                    WriteRequest(function: .single, address: 40020, registers: [7]),
                    WriteRequest(function: .single, address: 40021, registers: [8]),
                ])
            let past = await #expect(throws: ModbusError.self) { try await link.write(unit: 1, address: 40299, registers: [1, 2]) }
            #expect(past?.description == "write multiple registers unit 1 at 40299: Modbus exception 2 (illegal data address)")
            // FC6 stops at the first refusal: 40299 is written, 40300 refused, 40301 never sent.
            let before = link.transactions
            let stopped = await #expect(throws: ModbusError.self) {
                try await link.write(unit: 1, address: 40299, registers: [5, 6, 7], function: .single)
            }
            #expect(stopped?.kind == .exception(2))
            #expect(stopped?.address == 40300)
            #expect(link.transactions == before + 2)
            #expect(try await link.read(unit: 1, address: 40299, count: 1) == [5])
            let tooMany = await #expect(throws: ModbusError.self) {
                try await link.write(unit: 1, address: 40000, registers: Array(repeating: 0, count: 124))
            }
            #expect(tooMany?.kind == .invalidRequest("124 registers at 40000"))
            let none = await #expect(throws: ModbusError.self) { try await link.write(unit: 1, address: 40000, registers: []) }
            #expect(none?.kind == .invalidRequest("0 registers at 40000"))
        }
    }

    @Test("a read-only server answers writes with exception 1")
    func readOnly() async throws {
        try await serving(ModbusServer(port: 0, source: TestSource(registers: [1, 2, 3]))) { (port: Int) async throws in
            let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: port))
            let refused = await #expect(throws: ModbusError.self) {
                try await link.write(unit: 1, address: 40000, registers: [9], function: .single)
            }
            #expect(refused?.kind == .exception(1))
            #expect(try await link.read(unit: 1, address: 40000, count: 3) == [1, 2, 3])
        }
    }

    @Test("a write that times out is not sent again: the connection is reopened and the next write answered")
    func timeoutNeverRetried() async throws {
        // FC6 requests are 12 bytes, what the rogue server reads per request; the normal reply is the request.
        let server = try RogueServer { request, index in index == 0 ? [] : request }
        defer { server.stop() }
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .milliseconds(200))
        let error = await #expect(throws: ModbusError.self) {
            try await link.write(unit: 1, address: 10, registers: [42], function: .single)
        }
        #expect(error?.kind == .timeout)
        #expect(error?.description == "write single register unit 1 at 10: timed out")
        try await link.write(unit: 1, address: 11, registers: [43], function: .single)
        #expect(server.requests == 2)
        #expect(link.transactions == 2)
    }

    @Test("a reply that does not echo the write is not taken for it: bad response, reconnect, next one answered")
    func badEcho() async throws {
        let server = try RogueServer { request, index in
            var reply = request
            if index == 0 { reply[11] &+= 1 }  // another value echoed
            return reply
        }
        defer { server.stop() }
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .milliseconds(500))
        let error = await #expect(throws: ModbusError.self) {
            try await link.write(unit: 1, address: 10, registers: [42], function: .single)
        }
        #expect(error?.kind == .badResponse("not the answer to this request: value 43 echoed, not 42"))
        #expect(link.mismatchedReplies == 1)
        try await link.write(unit: 1, address: 10, registers: [42], function: .single)
        #expect(server.requests == 2)
    }

    @Test("a write whose task is cancelled in the queue never goes on the wire")
    func cancelledInQueue() async throws {
        let server = try RogueServer { request, _ in request }
        defer { server.stop() }
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .milliseconds(500))
        let task = Task { () -> ModbusError.Kind? in
            withUnsafeCurrentTask { $0?.cancel() }
            do throws(ModbusError) {
                try await link.write(unit: 1, address: 10, registers: [1], function: .single)
                return nil
            } catch {
                return error.kind
            }
        }
        #expect(await task.value == .cancelled)
        try await link.write(unit: 1, address: 10, registers: [2], function: .single)
        #expect(server.requests == 1)
        #expect(link.transactions == 1)
    }
}
