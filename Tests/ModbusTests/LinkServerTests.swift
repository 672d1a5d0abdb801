import Foundation
import Modbus
import ModbusNIO
import Testing

/// Serves `registers` at 40000... for unit 1; other units answer 0x0B; past the end, exception 2.
struct TestSource: RegisterSource {
    let registers: [UInt16]
    func read(unit: UInt8, kind: RegisterKind, address: Int, count: Int) -> ServerReply {
        guard unit == 1 else { return .exception(0x0B) }
        guard address >= 40000, address + count <= 40000 + registers.count else { return .exception(2) }
        return .registers(Array(registers[(address - 40000)..<(address - 40000 + count)]))
    }
}

@Suite("libmodbus link against the NIO server", .serialized)
struct LinkServerTests {
    let registers = (0..<300).map { UInt16($0 * 3) }

    @Test("reads registers, holding and input, and counts transactions")
    func reads() async throws {
        let server = ModbusServer(port: 0, source: TestSource(registers: registers))
        try await serving(server) { (port: Int) async throws in
            let link = ModbusLink(endpoint: .tcp(host: "localhost", port: port), timeout: .seconds(1))
            #expect(try await link.read(unit: 1, address: 40000, count: 125) == Array(registers[0..<125]))
            #expect(try await link.read(unit: 1, address: 40200, count: 3, kind: .input) == [600, 603, 606])
            #expect(link.transactions == 2)
            #expect(server.requests == 2)
        }
    }

    @Test("exceptions come back typed, and the link stays usable")
    func exceptions() async throws {
        try await serving(ModbusServer(port: 0, source: TestSource(registers: registers))) { (port: Int) async throws in
            let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: port))
            let pastEnd = await #expect(throws: ModbusError.self) { try await link.read(unit: 1, address: 40290, count: 20) }
            #expect(pastEnd?.kind == .exception(2))
            #expect(pastEnd?.description == "read holding registers unit 1 at 40290: Modbus exception 2 (illegal data address)")
            let otherUnit = await #expect(throws: ModbusError.self) { try await link.read(unit: 7, address: 40000, count: 1) }
            #expect(otherUnit?.kind == .exception(0x0B))
            #expect(try await link.read(unit: 1, address: 40001, count: 1) == [3])
            let tooMany = await #expect(throws: ModbusError.self) { try await link.read(unit: 1, address: 40000, count: 126) }
            #expect(tooMany?.kind == .invalidRequest("126 registers at 40000"))
        }
    }

    @Test("a refused connection is 'connection lost'; after the server starts, the link connects")
    func reconnect() async throws {
        let probe = ModbusServer(port: 0, source: TestSource(registers: registers))
        let port = try await probe.start()
        await probe.stop()  // returns once the socket is closed
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: port), timeout: .milliseconds(300))
        let refused = await #expect(throws: ModbusError.self) { try await link.read(unit: 1, address: 40000, count: 1) }
        #expect(refused?.needsReconnect == true)
        let server = ModbusServer(port: port, source: TestSource(registers: registers))
        try await serving(server) { (_: Int) async throws in
            #expect(try await link.read(unit: 1, address: 40000, count: 2) == [0, 3])
        }
        let lost = await #expect(throws: ModbusError.self) { try await link.read(unit: 1, address: 40000, count: 1) }
        #expect(lost?.needsReconnect == true || lost?.kind == .timeout)
    }

    @Test("an unknown function code gets exception 1 at once and stalls no one")
    func unknownFunction() async throws {
        try await serving(ModbusServer(port: 0, source: TestSource(registers: registers))) { (port: Int) async throws in
            // A raw client sends function 0x2B (read device identification).
            let client = try #require(RawClient(port: port))
            let start = ContinuousClock.now
            #expect(client.send([0, 9, 0, 0, 0, 5, 1, 0x2B, 0x0E, 1, 0]))
            #expect(client.receive(within: .seconds(1)) == [0, 9, 0, 0, 0, 3, 1, 0xAB, 1])
            #expect(ContinuousClock.now - start < .milliseconds(200))
            // Meanwhile a libmodbus client is served normally.
            let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: port))
            #expect(try await link.read(unit: 1, address: 40002, count: 1) == [6])
        }
    }

    @Test("connections beyond the cap are closed; the ones within it are served")
    func connectionCap() async throws {
        try await serving(ModbusServer(port: 0, maxConnections: 2, source: TestSource(registers: registers))) { (port: Int) async throws in
            let links = (0..<3).map { _ in ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: port), timeout: .milliseconds(500)) }
            #expect(try await links[0].read(unit: 1, address: 40000, count: 1) == [0])
            #expect(try await links[1].read(unit: 1, address: 40000, count: 1) == [0])
            await #expect(throws: ModbusError.self) { try await links[2].read(unit: 1, address: 40000, count: 1) }
        }
    }
}

/// Starts `server`, runs `body` with its port, and stops the server whatever `body` did.
func serving(_ server: ModbusServer, _ body: (Int) async throws -> Void) async throws {
    let port = try await server.start()
    do {
        try await body(port)
        await server.stop()
    } catch {
        await server.stop()
        throw error
    }
}
