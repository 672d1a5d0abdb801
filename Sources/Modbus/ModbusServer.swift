import CModbus
import Foundation
import Synchronization

/// What a served device answers to a read.
public enum ServerReply: Sendable, Equatable {
    /// The registers asked for.
    case registers([UInt16])
    /// A Modbus exception (2: illegal data address, 0x0B: gateway target failed to respond...).
    case exception(UInt8)
}

/// What a server did to a connection on its own, for its owner to log.
public enum ServerConnectionEvent: Sendable, Equatable {
    /// A connection with no complete request for `idle` (the idle timeout) was closed.
    case idleClosed(peer: String, idle: Duration)
    /// At the cap, the connection idle longest (`idle`) was closed to admit a new one.
    case evicted(peer: String, idle: Duration)
    /// At the cap, with no connection idle long enough to be closed, a new one was refused.
    case refused(peer: String)
}

/// The registers a server serves, by unit id.
public protocol RegisterSource: Sendable {
    /// The answer to a read of `count` registers of `unit` from `address`.
    func read(unit: UInt8, kind: RegisterKind, address: Int, count: Int) -> ServerReply
}

/// A Modbus TCP server over libmodbus, for the simulator (and later the SunSpec export).
///
/// libmodbus 3.1.6's own server loop stalls every client on odd input (`modbus_reply` sleeps a full
/// response timeout on an unknown function code; a partial frame blocks a shared select loop), so
/// each connection has its own thread and context, only libmodbus's framing is used, replies are
/// built here (function codes other than 3 and 4 get exception 1 at once), requests are framed by
/// their MBAP length (libmodbus frames by function code, which desynchronizes on unknown ones), and
/// connections are capped. Requests are read with poll(), so descriptors past 1023 are fine here.
///
/// Careless clients cannot hold slots for ever: a connection with no complete request for
/// `idleTimeout` is closed (a partial frame, or bytes dribbled in, count as idle), and at the cap the
/// connection idle longest is closed to admit a new client, provided it has been idle for at least
/// `evictableIdle` (1 s: a burst of new clients never throws out one that polls faster than that).
public final class ModbusTCPServer: @unchecked Sendable {
    /// The address listened on.
    public let host: String
    /// Most connections served at once; more are closed on accept.
    public let maxConnections: Int
    /// A connection with no complete request for this long is closed; nil (the default): never.
    public let idleTimeout: Duration?
    /// At the cap, a connection idle at least this long is closed to admit a new client.
    public static let evictableIdle = Duration.seconds(1)
    /// Requests answered (registers or exception), for tests and benchmarks.
    public var requests: Int { requestCount.load(ordering: .relaxed) }
    /// The port listened on, once started.
    public private(set) var port: Int

    private let source: any RegisterSource
    private let onEvent: @Sendable (ServerConnectionEvent) -> Void
    private let requestCount = Atomic<Int>(0)
    private let state = Mutex(State())
    private var listenContext: OpaquePointer?
    private var listenSocket: Int32 = -1

    /// Descriptors are closed, and shut down by `stop`, only under this lock: a descriptor number
    /// closed here may at once be reused by another server in the process, which must never be touched.
    private struct State {
        var connections: [Int32: Connection] = [:]
        var stopping = false
        var listening = false
    }

    /// One accepted connection: its peer, when it last completed a request (or was accepted), and
    /// whether it was shut down to make room (it no longer counts towards the cap).
    private struct Connection {
        var peer: String
        var lastRequest: ContinuousClock.Instant
        var evicted = false
    }

    /// Creates a server; `port` 0 picks a free one. `host` is a dotted IPv4 address. `onEvent` hears
    /// of connections closed or refused by the server (from its threads; it must not block).
    public init(
        host: String = "127.0.0.1", port: Int, maxConnections: Int = 64, idleTimeout: Duration? = nil,
        source: any RegisterSource, onEvent: @escaping @Sendable (ServerConnectionEvent) -> Void = { _ in }
    ) {
        self.host = host
        self.port = port
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.source = source
        self.onEvent = onEvent
    }

    /// Binds, listens and starts accepting; returns the port.
    @discardableResult
    public func start() throws(ModbusError) -> Int {
        guard let ctx = modbus_new_tcp(host, Int32(port)) else {
            throw ModbusError.fromErrno(cmodbus_errno(), operation: "listen on \(host):\(port)", unit: nil, address: nil)
        }
        let fd = modbus_tcp_listen(ctx, 64)
        guard fd >= 0 else {
            let code = cmodbus_errno()
            modbus_free(ctx)
            throw ModbusError.fromErrno(code, operation: "listen on \(host):\(port)", unit: nil, address: nil)
        }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        listenContext = ctx
        listenSocket = fd
        state.withLock { $0.listening = true }
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "modbus server \(host):\(port)"
        thread.stackSize = 256 * 1024
        thread.start()
        return port
    }

    /// Stops accepting and closes every connection.
    public func stop() {
        state.withLock { s in
            s.stopping = true
            if s.listening { Glibc.shutdown(listenSocket, Int32(SHUT_RDWR)) }
            for fd in s.connections.keys { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    // MARK: - Threads

    private func acceptLoop() {
        guard let ctx = listenContext else { return }
        let listenFD = listenSocket
        var serverSocket = listenFD
        while true {
            let fd = modbus_tcp_accept(ctx, &serverSocket)
            if state.withLock({ $0.stopping }) {
                if fd >= 0 { close(fd) }
                break
            }
            guard fd >= 0 else {
                if cmodbus_errno() == EINTR || cmodbus_errno() == ECONNABORTED { continue }
                break
            }
            let peer = Self.peerName(fd)
            let now = ContinuousClock.now
            let (accepted, event) = state.withLock { s -> (Bool, ServerConnectionEvent?) in
                var event: ServerConnectionEvent?
                if s.connections.values.count(where: { !$0.evicted }) >= maxConnections {
                    // The connection idle longest makes room, if it has been idle long enough.
                    guard
                        let (victim, idle) = s.connections.filter({ !$0.value.evicted }).map({ ($0.key, now - $0.value.lastRequest) }).max(
                            by: { $0.1 < $1.1 }),
                        idle >= Self.evictableIdle
                    else { return (false, .refused(peer: peer)) }
                    s.connections[victim]?.evicted = true
                    Glibc.shutdown(victim, Int32(SHUT_RDWR))  // its thread closes it, under this lock
                    event = .evicted(peer: s.connections[victim]?.peer ?? "?", idle: idle)
                }
                s.connections[fd] = Connection(peer: peer, lastRequest: now)
                return (true, event)
            }
            if let event { onEvent(event) }
            guard accepted else {
                close(fd)
                continue
            }
            let thread = Thread { [self] in serve(fd) }
            thread.stackSize = 256 * 1024
            thread.start()
        }
        state.withLock { s in
            s.listening = false
            close(listenFD)
        }
        modbus_free(ctx)
    }

    private func serve(_ fd: Int32) {
        defer {
            state.withLock { s in
                s.connections[fd] = nil
                close(fd)
            }
        }
        // Requests are framed by their MBAP header's length, here: libmodbus 3.1.6 frames a request by
        // its function code, so the bytes of one it does not know (0x2B, read device identification)
        // would be taken for the next request's header and desynchronize the connection.
        var header = [UInt8](repeating: 0, count: 7)
        var lastRequest = ContinuousClock.now
        while true {
            // A whole request must arrive within the idle timeout of the last one (a frame held half
            // way, or dribbled in, is idle too), and a frame that pauses 500 ms half way ends the connection.
            let deadline = idleTimeout.map { lastRequest + $0 }
            var read = Self.readExactly(fd, &header, 0..<1, timeoutMs: -1, deadline: deadline)
            if read == .complete { read = Self.readExactly(fd, &header, 1..<7, timeoutMs: 500, deadline: deadline) }
            var query: [UInt8] = []
            if read == .complete {
                let length = Int(header[4]) << 8 | Int(header[5])
                guard header[2] == 0, header[3] == 0, (2...254).contains(length) else { return }  // not Modbus TCP
                query = header + [UInt8](repeating: 0, count: length - 1)
                read = Self.readExactly(fd, &query, 7..<(6 + length), timeoutMs: 500, deadline: deadline)
            }
            guard read == .complete else {
                if read == .idle, let idleTimeout {
                    let peer = state.withLock { $0.connections[fd]?.peer } ?? "?"
                    onEvent(.idleClosed(peer: peer, idle: idleTimeout))
                }
                return
            }
            lastRequest = ContinuousClock.now
            state.withLock { $0.connections[fd]?.lastRequest = lastRequest }
            let response = Self.respond(to: query, source: source)
            requestCount.add(1, ordering: .relaxed)
            let sent = response.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent != response.count { return }
        }
    }

    /// How a read of part of a request ended.
    enum ReadEnd: Equatable {
        case complete
        /// End of stream, an error, or a pause longer than the timeout between bytes.
        case closed
        /// The deadline passed first.
        case idle
    }

    /// Reads `range` of `buffer` from the socket, waiting at most `timeoutMs` for each chunk (-1: no
    /// limit) and never past `deadline`.
    static func readExactly(
        _ fd: Int32, _ buffer: inout [UInt8], _ range: Range<Int>, timeoutMs: Int32, deadline: ContinuousClock.Instant?
    ) -> ReadEnd {
        var offset = range.lowerBound
        while offset < range.upperBound {
            var wait = timeoutMs
            var bounded = false
            if let deadline {
                let left = deadline - ContinuousClock.now
                guard left > .zero else { return .idle }
                let (seconds, attoseconds) = left.components
                let ms = Int32(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
                if wait < 0 || ms <= wait {
                    wait = ms
                    bounded = true
                }
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, wait)
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 && bounded { continue }  // the deadline, checked above
            guard ready > 0 else { return .closed }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + offset, range.upperBound - offset, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return .closed }
            offset += n
        }
        return .complete
    }

    /// `address:port` of a connected socket's peer.
    static func peerName(_ fd: Int32) -> String {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let got = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard got == 0, address.sin_family == sa_family_t(AF_INET) else { return "?" }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        var ip = address.sin_addr
        guard inet_ntop(AF_INET, &ip, &text, socklen_t(text.count)) != nil else { return "?" }
        let ipText = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "\(ipText):\(UInt16(bigEndian: address.sin_port))"
    }

    /// The TCP response to one request ADU (MBAP header of 7 bytes, then the PDU).
    static func respond(to query: [UInt8], source: any RegisterSource) -> [UInt8] {
        let pdu = replyPDU(unit: query[6], function: query[7], body: Array(query[8...]), source: source)
        let length = pdu.count + 1
        return [query[0], query[1], 0, 0, UInt8(length >> 8), UInt8(length & 0xFF), query[6]] + pdu
    }

    /// The response PDU (function code onwards) to a request for `unit`: reads of holding (3) and
    /// input (4) registers are served; any other function gets exception 1 at once.
    static func replyPDU(unit: UInt8, function: UInt8, body: [UInt8], source: any RegisterSource) -> [UInt8] {
        guard function == 3 || function == 4 else { return [function | 0x80, 1] }
        guard body.count >= 4 else { return [function | 0x80, 3] }
        let address = Int(body[0]) << 8 | Int(body[1])
        let count = Int(body[2]) << 8 | Int(body[3])
        // Modbus application protocol 6.3: a quantity outside 1...125 is exception 3; a valid quantity
        // that runs past register 65535 is exception 2 (illegal data address).
        guard (1...125).contains(count) else { return [function | 0x80, 3] }
        guard address + count <= 65536 else { return [function | 0x80, 2] }
        switch source.read(unit: unit, kind: function == 3 ? .holding : .input, address: address, count: count) {
        case .registers(let registers) where registers.count == count:
            var pdu: [UInt8] = [function, UInt8(count * 2)]
            pdu.reserveCapacity(2 + count * 2)
            for r in registers {
                pdu.append(UInt8(r >> 8))
                pdu.append(UInt8(r & 0xFF))
            }
            return pdu
        case .registers:
            return [function | 0x80, 4]
        case .exception(let code):
            return [function | 0x80, code]
        }
    }
}
