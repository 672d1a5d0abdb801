import Modbus
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import ModbusNIO

/// A write handler that answers only when the test says: each write waits for `release`.
final class GatedWriteHandler: ModbusWriteHandler {
    /// One write handed to the handler.
    struct Call: Sendable, Equatable {
        let unit: UInt8
        let function: WriteFunction
        let address: Int
        let registers: [UInt16]
        let peer: String
    }

    /// The writes, as they arrive.
    let arrived: AsyncStream<Call>
    private let arrivals: AsyncStream<Call>.Continuation
    private let gates = Mutex<[CheckedContinuation<ServerWriteReply, Never>]>([])

    init() {
        let (stream, continuation) = AsyncStream.makeStream(of: Call.self)
        arrived = stream
        arrivals = continuation
    }

    /// Writes handed over and not answered yet.
    var pending: Int { gates.withLock { $0.count } }

    func write(unit: UInt8, function: WriteFunction, address: Int, registers: [UInt16], peer: String) async -> ServerWriteReply {
        await withCheckedContinuation { (gate: CheckedContinuation<ServerWriteReply, Never>) in
            gates.withLock { $0.append(gate) }
            arrivals.yield(Call(unit: unit, function: function, address: address, registers: registers, peer: peer))
        }
    }

    /// Answers the oldest pending write.
    func release(_ reply: ServerWriteReply) {
        gates.withLock { $0.removeFirst() }.resume(returning: reply)
    }
}

/// The next write to arrive at `handler`.
func nextCall(_ handler: GatedWriteHandler) async throws -> GatedWriteHandler.Call {
    var calls = handler.arrived.makeAsyncIterator()
    let call = await calls.next()
    return try #require(call)
}

/// An FC6 ADU with transaction `id`.
func writeSingle(id: UInt8, address: Int, value: UInt16) -> [UInt8] {
    [0, id, 0, 0, 0, 6, 1, 6, UInt8(address >> 8), UInt8(address & 0xFF), UInt8(value >> 8), UInt8(value & 0xFF)]
}

@Suite("Writes through the NIO server", .serialized)
struct ServerWriteTests {
    @Test("without a write handler, a writable source is written by the responder, in memory")
    func responderWrites() throws {
        let source = WritableTestSource()
        let setup = ConnectionSetup(
            responder: ModbusResponder(source: source), counter: RequestCounter(),
            registry: ConnectionRegistry(maxConnections: 4, evictableIdle: ModbusServer.evictableIdle), idleTimeout: nil, onEvent: { _ in })
        let connection = try Connection(setup, loop: EmbeddedEventLoop())
        try connection.send(
            writeSingle(id: 1, address: 40001, value: 0x1234) + [0, 2, 0, 0, 0, 11, 1, 0x10, 0x9C, 0x42, 0, 2, 4, 0, 7, 0, 8])
        #expect(
            try connection.replies() == [
                [0, 1, 0, 0, 0, 6, 1, 6, 0x9C, 0x41, 0x12, 0x34], [0, 2, 0, 0, 0, 6, 1, 0x10, 0x9C, 0x42, 0, 2],
            ])
        try connection.send(readRequest(id: 3, address: 40001, count: 3))
        #expect(try connection.replies() == [[0, 3, 0, 0, 0, 9, 1, 3, 6, 0x12, 0x34, 0, 7, 0, 8]])
    }

    @Test("with a write handler: replies keep the order of requests; a malformed write is exception 3 in its turn")
    func handlerOrder() async throws {
        let handler = GatedWriteHandler()
        let channel = try await Self.channel(handler)
        let malformed: [UInt8] = [0, 3, 0, 0, 0, 7, 1, 0x10, 0x9C, 0x40, 0, 1, 4]  // byte count 4 for one register
        try await channel.writeInbound(
            ByteBuffer(bytes: writeSingle(id: 1, address: 40279, value: 2500) + readRequest(id: 2) + malformed + readRequest(id: 4)))
        let call = try await nextCall(handler)
        #expect(call == GatedWriteHandler.Call(unit: 1, function: .single, address: 40279, registers: [2500], peer: "10.0.0.9:5020"))
        // Everything after the write waits for it.
        #expect(try await channel.readOutbound(as: ByteBuffer.self) == nil)
        handler.release(.written)
        #expect(try await Self.reply(channel) == writeSingle(id: 1, address: 40279, value: 2500))
        #expect(try await Self.reply(channel) == [0, 2, 0, 0, 0, 5, 1, 3, 2, 0, 0])
        #expect(try await Self.reply(channel) == [0, 3, 0, 0, 0, 3, 1, 0x90, 3])
        #expect(try await Self.reply(channel) == [0, 4, 0, 0, 0, 5, 1, 3, 2, 0, 0])
        #expect(handler.pending == 0)
    }

    @Test("a second write goes to the handler only once the first is answered; the handler's exception is the reply")
    func writesOneAtATime() async throws {
        let handler = GatedWriteHandler()
        let channel = try await Self.channel(handler)
        let multiple: [UInt8] = [0, 2, 0, 0, 0, 11, 1, 0x10, 0x9C, 0x42, 0, 2, 4, 0, 7, 0, 8]
        try await channel.writeInbound(ByteBuffer(bytes: writeSingle(id: 1, address: 40001, value: 5) + multiple))
        var calls = handler.arrived.makeAsyncIterator()
        let first = await calls.next()
        #expect(first?.address == 40001)
        #expect(handler.pending == 1)
        handler.release(.exception(4))
        #expect(try await Self.reply(channel) == [0, 1, 0, 0, 0, 3, 1, 0x86, 4])
        let second = await calls.next()
        #expect(second?.function == .multiple)
        #expect(second?.registers == [7, 8])
        handler.release(.written)
        #expect(try await Self.reply(channel) == [0, 2, 0, 0, 0, 6, 1, 0x10, 0x9C, 0x42, 0, 2])
    }

    @Test("over a socket: a link's write waits for the handler; another connection's reads go on meanwhile")
    func overSocket() async throws {
        let handler = GatedWriteHandler()
        let server = ModbusServer(port: 0, source: TestSource(registers: [1, 2, 3]), writeHandler: handler)
        try await serving(server) { (port: Int) async throws in
            let writer = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: port), timeout: .seconds(5))
            let reader = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: port), timeout: .seconds(1))
            let write = Task {
                try await writer.write(unit: 1, address: 40000, registers: [10, 20])
            }
            let call = try await nextCall(handler)
            #expect(call.function == .multiple && call.address == 40000 && call.registers == [10, 20])
            #expect(call.peer.hasPrefix("127.0.0.1:"))
            #expect(try await reader.read(unit: 1, address: 40000, count: 3) == [1, 2, 3])
            handler.release(.written)
            try await write.value
            let refused = Task {
                try await writer.write(unit: 1, address: 40000, registers: [1], function: .single)
            }
            _ = try await nextCall(handler)
            handler.release(.exception(0x0B))
            let error = await #expect(throws: ModbusError.self) { try await refused.value }
            #expect(error?.kind == .exception(0x0B))
        }
    }

    /// A connection's pipeline with `handler` on a thread-safe test channel, connected from 10.0.0.9:5020.
    static func channel(_ handler: GatedWriteHandler) async throws -> NIOAsyncTestingChannel {
        let setup = ConnectionSetup(
            responder: ModbusResponder(source: TestSource(registers: [0, 0])), counter: RequestCounter(),
            registry: ConnectionRegistry(maxConnections: 4, evictableIdle: ModbusServer.evictableIdle), idleTimeout: nil,
            writeHandler: handler, onEvent: { _ in })
        let channel = NIOAsyncTestingChannel()
        try await channel.testingEventLoop.executeInContext { try setup.install(on: channel.pipeline.syncOperations) }
        let address = try SocketAddress(ipAddress: "10.0.0.9", port: 5020)
        channel.remoteAddress = address
        try await channel.connect(to: address)
        return channel
    }

    /// The next reply written, waited for.
    static func reply(_ channel: NIOAsyncTestingChannel) async throws -> [UInt8] {
        Array(try await channel.waitForOutboundWrite(as: ByteBuffer.self).readableBytesView)
    }
}
