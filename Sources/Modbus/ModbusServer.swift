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
public final class ModbusTCPServer: @unchecked Sendable {
    /// The address listened on.
    public let host: String
    /// Most connections served at once; more are closed on accept.
    public let maxConnections: Int
    /// Requests answered (registers or exception), for tests and benchmarks.
    public var requests: Int { requestCount.load(ordering: .relaxed) }
    /// The port listened on, once started.
    public private(set) var port: Int

    private let source: any RegisterSource
    private let requestCount = Atomic<Int>(0)
    private let state = Mutex(State())
    private var listenContext: OpaquePointer?
    private var listenSocket: Int32 = -1

    /// Descriptors are closed, and shut down by `stop`, only under this lock: a descriptor number
    /// closed here may at once be reused by another server in the process, which must never be touched.
    private struct State {
        var connections: Set<Int32> = []
        var stopping = false
        var listening = false
    }

    /// Creates a server; `port` 0 picks a free one. `host` is a dotted IPv4 address.
    public init(host: String = "127.0.0.1", port: Int, maxConnections: Int = 64, source: any RegisterSource) {
        self.host = host
        self.port = port
        self.maxConnections = maxConnections
        self.source = source
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
            for fd in s.connections { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
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
            let accepted = state.withLock { s -> Bool in
                guard s.connections.count < maxConnections else { return false }
                s.connections.insert(fd)
                return true
            }
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
                s.connections.remove(fd)
                close(fd)
            }
        }
        // Requests are framed by their MBAP header's length, here: libmodbus 3.1.6 frames a request by
        // its function code, so the bytes of one it does not know (0x2B, read device identification)
        // would be taken for the next request's header and desynchronize the connection.
        var header = [UInt8](repeating: 0, count: 7)
        while true {
            // An idle client may wait as long as it likes; a frame that stops half way ends the connection.
            guard Self.readExactly(fd, &header, 0..<1, timeoutMs: -1), Self.readExactly(fd, &header, 1..<7, timeoutMs: 500) else { return }
            let length = Int(header[4]) << 8 | Int(header[5])
            guard header[2] == 0, header[3] == 0, (2...254).contains(length) else { return }  // not Modbus TCP
            var query = header + [UInt8](repeating: 0, count: length - 1)
            guard Self.readExactly(fd, &query, 7..<(6 + length), timeoutMs: 500) else { return }
            let response = Self.respond(to: query, source: source)
            requestCount.add(1, ordering: .relaxed)
            let sent = response.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent != response.count { return }
        }
    }

    /// Reads `range` of `buffer` from the socket; false on end of stream, error or timeout (-1: none).
    static func readExactly(_ fd: Int32, _ buffer: inout [UInt8], _ range: Range<Int>, timeoutMs: Int32) -> Bool {
        var offset = range.lowerBound
        while offset < range.upperBound {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, timeoutMs)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return false }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + offset, range.upperBound - offset, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
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
        guard (1...125).contains(count), address + count <= 65536 else { return [function | 0x80, 3] }
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
