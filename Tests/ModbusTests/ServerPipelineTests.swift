import Modbus
import NIOCore
import NIOEmbedded
import Testing

@testable import ModbusNIO

/// A connection's pipeline in memory: the server's handlers on an `EmbeddedChannel`.
struct Connection {
    let channel: EmbeddedChannel

    /// A connected channel from `peer` with `setup`'s handlers, on `loop`.
    init(_ setup: ConnectionSetup, loop: EmbeddedEventLoop, peer: Int = 5020) throws {
        channel = EmbeddedChannel(loop: loop)
        try setup.install(on: channel.pipeline.syncOperations)
        let address = try SocketAddress(ipAddress: "10.0.0.9", port: peer)
        channel.remoteAddress = address
        try channel.connect(to: address).wait()
    }

    /// Hands `bytes` to the pipeline as one read.
    func send(_ bytes: [UInt8]) throws { try channel.writeInbound(ByteBuffer(bytes: bytes)) }

    /// The replies written so far, one buffer each.
    func replies() throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out.append(Array(buffer.readableBytesView)) }
        return out
    }

    var isOpen: Bool { channel.isActive }
}

/// The settings of one server's connections, with its events recorded.
func makeSetup(maxConnections: Int = 64, idleTimeout: Duration? = nil, log: EventLog = EventLog()) -> ConnectionSetup {
    ConnectionSetup(
        responder: ModbusResponder(source: TestSource(registers: (0..<300).map { UInt16($0 * 3) })), counter: RequestCounter(),
        registry: ConnectionRegistry(maxConnections: maxConnections, evictableIdle: ModbusServer.evictableIdle),
        idleTimeout: idleTimeout, onEvent: log.record)
}

/// A read of holding registers 40000... as an ADU with transaction `id`.
func readRequest(id: UInt8 = 1, address: Int = 40000, count: Int = 1, function: UInt8 = 3) -> [UInt8] {
    [0, id, 0, 0, 0, 6, 1, function, UInt8(address >> 8), UInt8(address & 0xFF), UInt8(count >> 8), UInt8(count & 0xFF)]
}

@Suite("The NIO server's pipeline, in memory")
struct ServerPipelineTests {
    let loop = EmbeddedEventLoop()

    @Test("a request split across reads is answered once it is whole")
    func splitFrame() throws {
        let setup = makeSetup()
        let connection = try Connection(setup, loop: loop)
        let request = readRequest(address: 40001, count: 2)
        try connection.send(Array(request[0..<3]))
        #expect(try connection.replies().isEmpty)
        try connection.send(Array(request[3..<9]))
        #expect(try connection.replies().isEmpty)
        try connection.send(Array(request[9...]))
        #expect(try connection.replies() == [[0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 3, 0, 6]])
        #expect(setup.counter.value == 1)
    }

    @Test("two requests in one read get two replies, in order; a third begun in the same read waits")
    func twoFrames() throws {
        let setup = makeSetup()
        let connection = try Connection(setup, loop: loop)
        let third = readRequest(id: 3, address: 40002, count: 1, function: 4)
        try connection.send(readRequest(id: 1) + readRequest(id: 2, address: 40001) + third.prefix(4))
        #expect(try connection.replies() == [[0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 0], [0, 2, 0, 0, 0, 5, 1, 3, 2, 0, 3]])
        try connection.send(Array(third.dropFirst(4)))
        #expect(try connection.replies() == [[0, 3, 0, 0, 0, 5, 1, 4, 2, 0, 6]])
        #expect(setup.counter.value == 3)
    }

    @Test("FC6 and FC 0x2B get exception 1, framed by their MBAP length: the next request on the connection is answered")
    func otherFunctions() throws {
        let connection = try Connection(makeSetup(), loop: loop)
        try connection.send([0, 7, 0, 0, 0, 6, 1, 6, 0x9C, 0x40, 0, 1])
        try connection.send([0, 9, 0, 0, 0, 5, 1, 0x2B, 0x0E, 1, 0] + readRequest(id: 10, address: 40002))
        #expect(
            try connection.replies() == [
                [0, 7, 0, 0, 0, 3, 1, 0x86, 1], [0, 9, 0, 0, 0, 3, 1, 0xAB, 1], [0, 10, 0, 0, 0, 5, 1, 3, 2, 0, 6],
            ])
        #expect(connection.isOpen)
    }

    @Test("a read past register 65535 is exception 2; over 125 registers, exception 3")
    func pastTheEnd() throws {
        let connection = try Connection(makeSetup(), loop: loop)
        try connection.send(readRequest(address: 65535, count: 2) + readRequest(id: 2, address: 0, count: 126))
        #expect(try connection.replies() == [[0, 1, 0, 0, 0, 3, 1, 0x83, 2], [0, 2, 0, 0, 0, 3, 1, 0x83, 3]])
    }

    @Test(
        "a nonzero protocol id, or a length outside 2...254, closes the connection unanswered",
        arguments: [
            [0, 1, 0, 1, 0, 6, 1, 3, 0x9C, 0x40, 0, 1],  // protocol id 1
            [0, 1, 0x80, 0, 0, 6, 1, 3, 0x9C, 0x40, 0, 1],  // protocol id 0x8000
            [0, 1, 0, 0, 0, 0, 1],  // length 0
            [0, 1, 0, 0, 0, 1, 1],  // length 1
            [0, 1, 0, 0, 0, 255, 1, 3],  // length 255
            [0, 1, 0, 0, 1, 0, 1, 3],  // length 256
        ] as [[UInt8]])
    func framingErrors(bytes: [UInt8]) throws {
        let setup = makeSetup()
        let connection = try Connection(setup, loop: loop)
        try connection.send(readRequest(id: 5))
        try connection.send(bytes)
        #expect(try connection.replies() == [[0, 5, 0, 0, 0, 5, 1, 3, 2, 0, 0]])
        #expect(!connection.isOpen)
        #expect(setup.counter.value == 1)
        #expect(setup.registry.counted == 0)
    }

    @Test("a length of 2 (function code, no data) is a frame: a read without address and count is exception 3")
    func shortestFrame() throws {
        let connection = try Connection(makeSetup(), loop: loop)
        try connection.send([0, 4, 0, 0, 0, 2, 1, 3])
        #expect(try connection.replies() == [[0, 4, 0, 0, 0, 3, 1, 0x83, 3]])
        #expect(connection.isOpen)
    }

    @Test("no complete request for the idle timeout closes the connection and reports it; each request restarts it")
    func idleTimeout() throws {
        let log = EventLog()
        let connection = try Connection(makeSetup(idleTimeout: .milliseconds(600), log: log), loop: loop, peer: 4711)
        loop.advanceTime(by: .milliseconds(500))
        try connection.send(readRequest())
        loop.advanceTime(by: .milliseconds(500))
        #expect(connection.isOpen)  // 500 ms since the request
        #expect(log.all.isEmpty)
        loop.advanceTime(by: .milliseconds(100))
        #expect(!connection.isOpen)
        #expect(log.all == [.idleClosed(peer: "10.0.0.9:4711", idle: .milliseconds(600))])
    }

    @Test("a partial frame, or bytes dribbled in, count as idle")
    func partialFrameIsIdle() throws {
        let log = EventLog()
        let connection = try Connection(makeSetup(idleTimeout: .seconds(1), log: log), loop: loop)
        let request = readRequest()
        for byte in request.prefix(11) {
            try connection.send([byte])
            loop.advanceTime(by: .milliseconds(90))
        }
        #expect(connection.isOpen)  // 990 ms
        loop.advanceTime(by: .milliseconds(10))
        #expect(!connection.isOpen)
        #expect(try connection.replies().isEmpty)
        #expect(log.all == [.idleClosed(peer: "10.0.0.9:5020", idle: .seconds(1))])
    }

    @Test("without an idle timeout, a silent connection stays open")
    func noIdleTimeout() throws {
        let connection = try Connection(makeSetup(), loop: loop)
        loop.advanceTime(by: .hours(1))
        #expect(connection.isOpen)
    }

    @Test("at the cap a new client is refused while no one has been idle 1 s; then the one idle longest makes room")
    func capAndEviction() throws {
        let log = EventLog()
        let setup = makeSetup(maxConnections: 2, log: log)
        let first = try Connection(setup, loop: loop, peer: 1)
        loop.advanceTime(by: .milliseconds(200))
        let second = try Connection(setup, loop: loop, peer: 2)
        loop.advanceTime(by: .milliseconds(700))
        // The first has been idle 900 ms: not long enough.
        let early = try Connection(setup, loop: loop, peer: 3)
        #expect(!early.isOpen)
        #expect(log.all == [.refused(peer: "10.0.0.9:3")])
        #expect(first.isOpen && second.isOpen)
        // The first polls; 1.1 s later the second has been idle 1.8 s, the first 1.1 s: the second goes.
        try first.send(readRequest())
        loop.advanceTime(by: .milliseconds(1100))
        let late = try Connection(setup, loop: loop, peer: 4)
        #expect(late.isOpen)
        #expect(!second.isOpen)
        #expect(first.isOpen)
        #expect(log.all.last == .evicted(peer: "10.0.0.9:2", idle: .milliseconds(1800)))
        #expect(setup.registry.counted == 2)
        // The newcomer is served.
        try late.send(readRequest(id: 8))
        #expect(try late.replies() == [[0, 8, 0, 0, 0, 5, 1, 3, 2, 0, 0]])
    }

    @Test("a closed connection frees its slot")
    func closedFreesSlot() throws {
        let setup = makeSetup(maxConnections: 1)
        let first = try Connection(setup, loop: loop)
        try first.channel.close().wait()
        #expect(setup.registry.counted == 0)
        let second = try Connection(setup, loop: loop)
        #expect(second.isOpen)
    }
}

@Suite("The cap's table, pure")
struct ConnectionTableTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test("an evicted connection no longer counts; ties at the cap go to the one idle longest")
    func evictedDoesNotCount() {
        var table = ConnectionTable<Int>(maxConnections: 2, evictableIdle: .seconds(1))
        #expect(table.admit(1, peer: "a", now: start) == .admitted)
        #expect(table.admit(2, peer: "b", now: start + .milliseconds(100)) == .admitted)
        #expect(table.admit(3, peer: "c", now: start + .milliseconds(999)) == .refused)
        #expect(table.admit(4, peer: "d", now: start + .seconds(2)) == .admittedEvicting(victim: 1, peer: "a", idle: .seconds(2)))
        #expect(table.counted == 2)
        #expect(
            table.admit(5, peer: "e", now: start + .seconds(3)) == .admittedEvicting(victim: 2, peer: "b", idle: .milliseconds(2900)))
        table.remove(1)
        table.remove(2)
        #expect(table.entries.count == 2)
        table.completedRequest(4, now: start + .seconds(4))
        table.completedRequest(5, now: start + .milliseconds(4200))
        #expect(table.admit(6, peer: "f", now: start + .milliseconds(4500)) == .refused)
        #expect(table.admit(7, peer: "g", now: start + .seconds(5)) == .admittedEvicting(victim: 4, peer: "d", idle: .seconds(1)))
    }
}
