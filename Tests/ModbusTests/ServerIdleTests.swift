import Foundation
import Modbus
import ModbusNIO
import Synchronization
import Testing

/// A raw Modbus TCP client on a blocking socket, for what libmodbus clients never do.
final class RawClient {
    private(set) var fd: Int32

    /// Connects to 127.0.0.1:`port`; nil when the connection is refused.
    init?(port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            // deinit runs for a class whose failable init fails once every property is set: close
            // here once and leave nothing for it (a second close could take another thread's file).
            close(fd)
            fd = -1
            return nil
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Sends bytes; false when the connection is gone.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// The bytes that arrive within `timeout` (up to 300), empty at end of stream; nil on timeout.
    func receive(within timeout: Duration) -> [UInt8]? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&p, 1, ms) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 300)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n <= 0 ? [] : Array(buffer.prefix(n))
    }

    /// Whether the server closed the connection within `timeout`.
    func closedByPeer(within timeout: Duration) -> Bool { receive(within: timeout) == [] }

    /// The answer to a read of holding registers, or nil when the connection was closed or timed out.
    func read(unit: UInt8 = 1, address: Int, count: Int, timeout: Duration = .milliseconds(500)) -> [UInt8]? {
        let request: [UInt8] = [
            0, 1, 0, 0, 0, 6, unit, 3, UInt8(address >> 8), UInt8(address & 0xFF), UInt8(count >> 8), UInt8(count & 0xFF),
        ]
        guard send(request), let reply = receive(within: timeout), !reply.isEmpty else { return nil }
        return reply
    }
}

/// The events a server reported, for tests.
final class EventLog: Sendable {
    let events = Mutex<[ServerConnectionEvent]>([])
    var all: [ServerConnectionEvent] { events.withLock { $0 } }
    func record(_ event: ServerConnectionEvent) { events.withLock { $0.append(event) } }
}

@Suite("The TCP server under careless clients", .serialized)
struct ServerIdleTests {
    let registers = (0..<300).map { UInt16($0 * 3) }

    @Test("a connection with no request for the idle timeout is closed and logged; one that polls stays")
    func idleClosed() async throws {
        let log = EventLog()
        let server = ModbusServer(
            port: 0, idleTimeout: .milliseconds(600), source: TestSource(registers: registers), onEvent: log.record)
        try await serving(server) { (port: Int) async throws in try Self.idleClosed(port: port, log: log) }
    }

    private static func idleClosed(port: Int, log: EventLog) throws {
        // From before the connect: the server's idle clock starts when it accepts, which may be before connect() returns.
        let start = ContinuousClock.now
        let idle = try #require(RawClient(port: port))
        let polling = try #require(RawClient(port: port))
        // The poller reads every 100 ms or so until the other is closed (within 3 s).
        var closedAfter: Duration?
        while closedAfter == nil, ContinuousClock.now - start < .seconds(3) {
            #expect(polling.read(address: 40000, count: 1) == [0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 0])
            if idle.closedByPeer(within: .milliseconds(100)) { closedAfter = ContinuousClock.now - start }
        }
        let closed = try #require(closedAfter)
        #expect(closed >= .milliseconds(600) && closed < .milliseconds(1000), "\(closed)")
        #expect(polling.read(address: 40000, count: 1) != nil)
        #expect(log.all.count == 1)
        if case .idleClosed(let peer, let after)? = log.all.first {
            #expect(peer.hasPrefix("127.0.0.1:"))
            #expect(after == .milliseconds(600))
        } else {
            Issue.record("events: \(log.all)")
        }
    }

    @Test("a frame dribbled in a byte at a time (never 500 ms apart) counts as idle: closed at the idle timeout")
    func dribbledFrame() async throws {
        let server = ModbusServer(port: 0, idleTimeout: .seconds(1), source: TestSource(registers: registers))
        try await serving(server) { (port: Int) async throws in try Self.dribbledFrame(port: port) }
    }

    private static func dribbledFrame(port: Int) throws {
        // Timed from before the connect: the server's idle clock starts at accept, which can come
        // before connect() returns here.
        let start = ContinuousClock.now
        let client = try #require(RawClient(port: port))
        let request: [UInt8] = [0, 1, 0, 0, 0, 6, 1, 3, 0x9C, 0x40, 0, 1]
        var closed = false
        // 12 bytes, one per 250 ms: the frame would be complete after 3 s.
        for byte in request {
            if !client.send([byte]) || client.closedByPeer(within: .milliseconds(250)) {
                closed = true
                break
            }
        }
        let after = ContinuousClock.now - start
        #expect(closed)
        #expect(after >= .seconds(1) && after < .milliseconds(2000), "\(after)")
    }

    @Test("at the cap, the connection idle longest (at least 1 s) is closed to admit a new client")
    func evictsOldestIdle() async throws {
        let log = EventLog()
        let server = ModbusServer(port: 0, maxConnections: 3, source: TestSource(registers: registers), onEvent: log.record)
        try await serving(server) { (port: Int) async throws in try Self.evictsOldestIdle(port: port, log: log) }
    }

    private static func evictsOldestIdle(port: Int, log: EventLog) throws {
        let oldest = try #require(RawClient(port: port))
        #expect(oldest.read(address: 40000, count: 1) != nil)  // accepted and served
        let others = try (0..<2).map { _ in try #require(RawClient(port: port)) }
        for other in others { #expect(other.read(address: 40000, count: 1) != nil) }
        // A new client connects every 100 ms until served: refused while no one has been idle 1 s.
        let start = ContinuousClock.now
        var refused = 0
        var served = false
        while ContinuousClock.now - start < .seconds(3) {
            if let client = RawClient(port: port), client.read(address: 40000, count: 1) != nil {
                served = true
                break
            }
            refused += 1
            _ = oldest.receive(within: .milliseconds(100))
        }
        let waited = ContinuousClock.now - start
        #expect(served)
        #expect(waited < .milliseconds(1500), "\(waited)")
        #expect(refused >= 1, "a client was served before anyone had been idle 1 s")
        print("cap 3 filled by idle connections: new client served after \(waited), \(refused) refused")
        #expect(oldest.closedByPeer(within: .milliseconds(500)))
        #expect(others.allSatisfy { $0.read(address: 40000, count: 1) != nil })
        #expect(log.all.contains { if case .evicted = $0 { true } else { false } })
        #expect(log.all.filter { if case .refused = $0 { true } else { false } }.count == refused)
    }

    @Test("a read past register 65535 answers exception 2; a quantity over 125 still answers 3")
    func pastTheEnd() async throws {
        let server = ModbusServer(port: 0, source: TestSource(registers: registers))
        try await serving(server) { (port: Int) async throws in try Self.pastTheEnd(port: port) }
    }

    private static func pastTheEnd(port: Int) throws {
        let client = try #require(RawClient(port: port))
        #expect(client.read(address: 65535, count: 2) == [0, 1, 0, 0, 0, 3, 1, 0x83, 2])
        #expect(client.read(address: 65500, count: 125) == [0, 1, 0, 0, 0, 3, 1, 0x83, 2])
        #expect(client.read(address: 0, count: 126) == [0, 1, 0, 0, 0, 3, 1, 0x83, 3])
        #expect(client.read(address: 40000, count: 2) == [0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 0, 0, 3])
    }
}
