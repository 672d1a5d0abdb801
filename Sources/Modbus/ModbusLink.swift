import CModbus
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One Modbus connection (a TCP connection or a serial line) owned by a thread of its own.
///
/// Requests from any task queue up and run one at a time on that thread, each with its unit id, so
/// several units behind one TCP gateway, or on one serial line, share it safely. The link opens
/// itself on first use and after a lost connection; libmodbus's own error recovery stays off
/// (MODBUS_ERROR_RECOVERY_LINK can hang forever against a dead server); after a timeout or a bad
/// frame a TCP connection is reopened (a serial line flushed), so a late answer cannot be taken for
/// the next one. Each reply is checked against its request (transaction id, protocol id, unit id,
/// function code, length, a write's echo) and bytes left over from an earlier answer are dropped
/// before a request, so only the answer to a request is ever taken for its registers (or a write
/// done). Reads are in this file, writes in `ModbusLink+Write.swift`.
///
/// `@unchecked Sendable` is sound: the counters are atomics, and the libmodbus context and the
/// request state (`context`, `lastFrameEnd`, `currentTimeout`, `nextTransaction`, `openedBefore`) are touched only on
/// the link's own thread, by the jobs of its `BlockingWorker` (and by `deinit`, once no job is left).
public final class ModbusLink: @unchecked Sendable {
    /// Where the link goes.
    public let endpoint: Endpoint
    /// Transactions sent (answered or not), for tests and benchmarks.
    public var transactions: Int { transactionCount.load(ordering: .relaxed) }

    /// Replies that were not the answer to their request (another unit, transaction, function or length).
    public var mismatchedReplies: Int { mismatches.load(ordering: .relaxed) }
    /// Bytes found waiting before a request, or answering an earlier one (a reply sent twice, a late
    /// one), dropped.
    public var droppedStaleBytes: Int { droppedBytes.load(ordering: .relaxed) }
    /// Replies to earlier requests received while waiting for an answer, dropped.
    public var droppedEarlierReplies: Int { earlierReplies.load(ordering: .relaxed) }

    private let worker: BlockingWorker
    private let transactionCount = Atomic<Int>(0)
    private let mismatches = Atomic<Int>(0)
    private let droppedBytes = Atomic<Int>(0)
    private let earlierReplies = Atomic<Int>(0)
    /// The descriptor number the connection lives on (below 1024, for libmodbus's select()).
    private let descriptor = LowDescriptor()
    let defaultTimeout: Duration
    /// Told of each open and each request, on the link's thread (nil: no one listens).
    let observer: (any LinkObserver)?
    // Touched on the worker thread only:
    private var openedBefore = false
    private var context: OpaquePointer?
    private var lastFrameEnd: ContinuousClock.Instant?
    private var currentTimeout: Duration?
    private var nextTransaction: UInt16 = 0

    /// Creates a link (nothing is opened until the first request); `observer` hears of each open and
    /// each request.
    public init(endpoint: Endpoint, timeout: Duration = .seconds(1), observer: (any LinkObserver)? = nil) {
        self.endpoint = endpoint
        self.defaultTimeout = timeout
        self.observer = observer
        self.worker = BlockingWorker(name: "modbus \(endpoint)", stackSize: 256 * 1024)
    }

    deinit {
        // No job holds the link any more, so its thread is idle: close here, then let the thread end.
        closeContext()
        worker.stop()
    }

    /// Reads `count` registers (1...125) of `unit` from `address`.
    ///
    /// A request whose task is cancelled while it waits for its turn never goes on the wire: it
    /// fails at once with `.cancelled`. One already on the wire finishes, or times out. A request
    /// the link is closed before fails with `.connectionLost("link closed")`.
    public func read(
        unit: Int, address: Int, count: Int, kind: RegisterKind = .holding, timeout: Duration? = nil
    ) async throws(ModbusError) -> [UInt16] {
        let operation = kind == .holding ? "read holding registers" : "read input registers"
        let timeout = timeout ?? defaultTimeout
        return try await transaction(operation: operation, unit: unit, address: address) { [self] in
            performRead(unit: unit, address: address, count: count, kind: kind, timeout: timeout)
        }
    }

    /// Queues `job` as one turn on the link's thread and waits for its answer.
    func transaction<Value: Sendable>(
        operation: String, unit: Int, address: Int, _ job: @escaping @Sendable () -> Result<Value, ModbusError>
    ) async throws(ModbusError) -> Value {
        try await transaction(operation: operation, unit: unit, address: address, observed: true) { _ in job() }.get()
    }

    /// Queues `job` as one turn on the link's thread and gives its answer. `job` is handed whether
    /// its task still wants the answer (false once cancelled), for a job of several requests to stop
    /// between them; `observed`: the observer hears of the turn as one request (a job of several
    /// tells it of each itself).
    func transaction<Value: Sendable>(
        operation: String, unit: Int, address: Int, observed: Bool,
        _ job: @escaping @Sendable (_ stillWanted: () -> Bool) -> Result<Value, ModbusError>
    ) async -> Result<Value, ModbusError> {
        let cancelled = ModbusError(.cancelled, operation: operation, unit: unit, address: address)
        let closed = ModbusError(.connectionLost("link closed"), operation: operation, unit: unit, address: address)
        let request = PendingRequest<Value>(cancelled: cancelled)
        let observer = observed ? observer : nil
        return await request.answer(
            submit: { request in
                worker.submit { turn in
                    switch turn {
                    case .dropped:
                        request.finish(.failure(closed))
                    case .run:
                        // A request answered already (its task was cancelled in the queue) is not sent.
                        guard request.start() else { return }
                        let started = ContinuousClock.now
                        let result = job { !request.isCancelRequested }
                        if let observer {
                            let error: ModbusError? = if case .failure(let e) = result { e } else { nil }
                            observer.requestEnded(busy: .now - started, error: error)
                        }
                        request.finish(result)
                    }
                }
            }, closed: closed)
    }

    /// Closes the connection now (after queued requests); the next request opens it again.
    public func disconnect() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !worker.submit({ [self] turn in
                if turn == .run { self.closeContext() }
                continuation.resume()
            }) {
                continuation.resume()
            }
        }
    }

    /// Closes the link: requests still queued fail at once with "link closed"; the one on the wire,
    /// if any, finishes; then the connection is closed and the link's thread ends. Returns when it
    /// has. Later requests fail with "link closed".
    public func shutdown() async {
        worker.stop(last: { [self] in self.closeContext() })
        await worker.finished()
    }

    // MARK: - On the link's thread

    func performRead(unit: Int, address: Int, count: Int, kind: RegisterKind, timeout: Duration) -> Result<[UInt16], ModbusError> {
        let operation = kind == .holding ? "read holding registers" : "read input registers"
        guard (1...125).contains(count), address >= 0, address + count <= 65536 else {
            return .failure(
                ModbusError(.invalidRequest("\(count) registers at \(address)"), operation: operation, unit: unit, address: address))
        }
        return ready(unit: unit, address: address, operation: operation, timeout: timeout).flatMap { wireUnit, ctx, fd in
            exchange(unit: unit, address: address, operation: operation, ctx: ctx, fd: fd) { transaction in
                ReadFrame(unit: wireUnit, kind: kind, address: address, count: count, transaction: transaction)
            }
        }
    }

    /// Before a transaction: the unit can be addressed, the link is open, its timeout set. The unit
    /// id on the wire, the context and the descriptor, or the error.
    func ready(
        unit: Int, address: Int, operation: String, timeout: Duration
    ) -> Result<(UInt8, OpaquePointer, Int32), ModbusError> {
        guard let wireUnit = UInt8(exactly: unit), isAddressable(unit) else {
            let kind = ModbusError.Kind.invalidRequest("unit \(unit) cannot be addressed on \(endpoint)")
            return .failure(ModbusError(kind, operation: operation, unit: unit, address: address))
        }
        if let error = openIfNeeded(timeout: timeout, unit: unit) { return .failure(error) }
        guard let ctx = context, let fd = descriptor.number else {
            return .failure(ModbusError(.connectionLost("not open"), operation: "connect", unit: unit))
        }
        if currentTimeout != timeout, !setTimeout(ctx, timeout) {
            let kind = ModbusError.Kind.invalidRequest("libmodbus refused a timeout of \(timeout)")
            return .failure(ModbusError(kind, operation: operation, unit: unit, address: address))
        }
        return .success((wireUnit, ctx, fd))
    }

    /// One request and its answer: bytes waiting are dropped, the line's silence kept, the request
    /// (made with the next transaction id) sent, and frames received until one is its answer (replies
    /// to earlier requests dropped, a few at most). Never sent twice.
    func exchange<Request: LinkRequest>(
        unit: Int, address: Int, operation: String, ctx: OpaquePointer, fd: Int32, _ make: (UInt16) -> Request
    ) -> Result<Request.Answer, ModbusError> {
        func failure(_ kind: ModbusError.Kind) -> Result<Request.Answer, ModbusError> {
            .failure(ModbusError(kind, operation: operation, unit: unit, address: address))
        }
        dropUnread(fd)
        waitForLineSilence()
        nextTransaction &+= 1
        let request = make(nextTransaction)
        if let error = send(request, ctx: ctx, fd: fd, unit: unit) {
            lastFrameEnd = .now
            closeContext()
            return failure(error)
        }
        transactionCount.add(1, ordering: .relaxed)
        var reply = [UInt8](repeating: 0, count: 260)
        var checked: LinkOutcome<Request.Answer>
        var earlier = 0
        repeat {
            let rc = reply.withUnsafeMutableBufferPointer { modbus_receive_confirmation(ctx, $0.baseAddress) }
            let code = cmodbus_errno()
            lastFrameEnd = .now
            if rc < 0 {
                let error = ModbusError.fromErrno(code, operation: operation, unit: unit, address: address)
                recover(after: error.kind, ctx: ctx)
                return .failure(error)
            } else if rc == 0 {
                // libmodbus's RTU check gives 0 for a frame from another unit id.
                checked = .mismatch("a reply from another unit")
            } else if case .tcp = endpoint {
                checked = request.outcome(tcp: reply[0..<Int(rc)])
            } else {
                checked = request.outcome(rtu: reply[0..<Int(rc)])
            }
            if checked.isEarlier {
                // A copy of an earlier answer, or a late one: dropped; this request's answer may follow.
                earlier += 1
                droppedBytes.add(Int(rc), ordering: .relaxed)
                earlierReplies.add(1, ordering: .relaxed)
            }
        } while checked.isEarlier && earlier <= Int(ReadFrame.earlierWindow)
        switch checked {
        case .answer(let answer):
            return .success(answer)
        case .exception(let code):
            return failure(.exception(code))
        case .earlier(let transaction):
            mismatches.add(1, ordering: .relaxed)
            let kind = ModbusError.Kind.badResponse("only answers to earlier requests (the last: transaction id \(transaction))")
            recover(after: kind, ctx: ctx)
            return failure(kind)
        case .mismatch(let why):
            mismatches.add(1, ordering: .relaxed)
            let kind = ModbusError.Kind.badResponse("not the answer to this request: \(why)")
            recover(after: kind, ctx: ctx)
            return failure(kind)
        }
    }

    /// Whether libmodbus (or our own framing) can put this unit id on the wire.
    private func isAddressable(_ unit: Int) -> Bool {
        switch endpoint {
        case .tcp: (0...255).contains(unit)
        case .rtu: (1...247).contains(unit)
        }
    }

    /// Sends the request: on TCP our own ADU (libmodbus's raw requests all carry transaction id 0),
    /// on a serial line through libmodbus, which adds the CRC.
    private func send(_ request: some LinkRequest, ctx: OpaquePointer, fd: Int32, unit: Int) -> ModbusError.Kind? {
        switch endpoint {
        case .tcp:
            let frame = request.tcpRequest
            let sent = frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent == frame.count { return nil }
            return sent < 0 ? ModbusError.fromErrno(errno, operation: "", unit: nil, address: nil).kind : .connectionLost("short send")
        case .rtu:
            // The RTU check of the reply compares libmodbus's own unit id: it must be this one.
            guard modbus_set_slave(ctx, Int32(unit)) == 0 else {
                return .invalidRequest("libmodbus refused unit \(unit): \(ModbusError.describe(errno: cmodbus_errno()))")
            }
            let raw = request.rawRequest
            let sent = raw.withUnsafeBufferPointer { modbus_send_raw_request(ctx, $0.baseAddress, Int32($0.count)) }
            if sent > 0 { return nil }
            return ModbusError.fromErrno(cmodbus_errno(), operation: "", unit: nil, address: nil).kind
        }
    }

    /// After a failed transaction: a late answer would be taken for the next transaction's, so a TCP
    /// connection is dropped and reopened by the next request; on a serial line the late frame is let
    /// in, then flushed. A lost connection is closed.
    private func recover(after kind: ModbusError.Kind, ctx: OpaquePointer) {
        switch kind {
        case .timeout, .badResponse:
            if case .tcp = endpoint {
                closeContext()
            } else {
                usleep(50_000)
                modbus_flush(ctx)
            }
        case .connectionLost, .system:
            closeContext()
        default:
            break
        }
    }

    /// Bytes already waiting are not the answer to the next request (a reply sent twice, a late
    /// one): they are read and dropped, and counted.
    private func dropUnread(_ fd: Int32) {
        var scratch = [UInt8](repeating: 0, count: 512)
        var dropped = 0
        while cmodbus_unread(fd) > 0 {
            let n = scratch.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            dropped += n
        }
        if dropped > 0 { droppedBytes.add(dropped, ordering: .relaxed) }
    }

    private func openIfNeeded(timeout: Duration, unit: Int) -> ModbusError? {
        if context != nil { return nil }
        let operation = "connect to \(endpoint)"
        func lost(_ code: Int32) -> ModbusError {
            var error = ModbusError.fromErrno(code, operation: operation, unit: unit, address: nil)
            if case .system(let c, let why) = error.kind {
                error = ModbusError(.connectionLost("\(why) (\(c))"), operation: operation, unit: unit)
            }
            return error
        }
        guard descriptor.number != nil else {
            return ModbusError(
                .system(EMFILE, "no descriptor below 1024 was free for libmodbus's select() when the link was made"),
                operation: operation, unit: unit)
        }
        let ctx: OpaquePointer?
        let opened: Result<Int32, LowDescriptor.Errno>
        switch endpoint {
        case .tcp(let host, let port):
            ctx = modbus_new_tcp_pi(host, String(port))
            guard ctx != nil else { return lost(cmodbus_errno()) }
            opened = TCPConnect.open(host: host, port: port, timeout: timeout)
        case .rtu(let s):
            let parity: CChar =
                switch s.parity {
                case .none: CChar(UInt8(ascii: "N"))
                case .even: CChar(UInt8(ascii: "E"))
                case .odd: CChar(UInt8(ascii: "O"))
                }
            ctx = modbus_new_rtu(s.port, Int32(s.baud), parity, Int32(s.dataBits), Int32(s.stopBits))
            guard let ctx else { return lost(cmodbus_errno()) }
            // Opening a serial line waits on nothing: libmodbus opens and sets it up, then the
            // descriptor moves onto the reserved number.
            if modbus_connect(ctx) != 0 {
                opened = .failure(.init(cmodbus_errno()))
            } else {
                opened = .success(modbus_get_socket(ctx))
                modbus_set_socket(ctx, -1)
            }
        }
        guard let ctx else { return lost(cmodbus_errno()) }
        let fd: Int32
        switch opened.flatMap({ descriptor.adopt($0) }) {
        case .success(let number):
            fd = number
        case .failure(let error):
            modbus_free(ctx)
            return lost(error.code)
        }
        // What decides how the link behaves on the wire is checked: a context that refuses it is not used.
        guard modbus_set_socket(ctx, fd) == 0, modbus_set_error_recovery(ctx, MODBUS_ERROR_RECOVERY_NONE) == 0, setTimeout(ctx, timeout)
        else {
            let code = cmodbus_errno()
            modbus_set_socket(ctx, -1)
            descriptor.release()
            modbus_free(ctx)
            return ModbusError(
                .system(code, "libmodbus refused the link's settings: \(ModbusError.describe(errno: code))"), operation: operation)
        }
        context = ctx
        lastFrameEnd = nil
        observer?.linkOpened(first: !openedBefore)
        openedBefore = true
        return nil
    }

    /// Sets the response and byte timeouts; false when libmodbus refused them.
    @discardableResult
    private func setTimeout(_ ctx: OpaquePointer, _ timeout: Duration) -> Bool {
        let whole = min(max(timeout.components.seconds, 0), 86_400)  // a day at most: no overflow below
        let micros = max(1000, whole * 1_000_000 + timeout.components.attoseconds / 1_000_000_000_000)
        let seconds = UInt32(clamping: micros / 1_000_000)
        let rest = UInt32(micros % 1_000_000)
        // Between the bytes of one frame: generous on a serial line, the same bound on TCP.
        guard modbus_set_response_timeout(ctx, seconds, rest) == 0, modbus_set_byte_timeout(ctx, seconds, rest) == 0 else {
            currentTimeout = nil
            return false
        }
        currentTimeout = timeout
        return true
    }

    /// On a serial line, frames are separated by 3.5 characters of silence.
    private func waitForLineSilence() {
        guard case .rtu(let settings) = endpoint, let last = lastFrameEnd else { return }
        let ready = last + settings.interFrameDelay
        let now = ContinuousClock.now
        if ready > now {
            let wait = ready - now
            let micros = wait.components.seconds * 1_000_000 + wait.components.attoseconds / 1_000_000_000_000
            usleep(UInt32(max(1, micros)))
        }
    }

    /// Closes the connection (the reserved number then points at /dev/null) and frees the context.
    private func closeContext() {
        guard let ctx = context else { return }
        if case .tcp = endpoint, let fd = descriptor.number { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        descriptor.release()
        modbus_set_socket(ctx, -1)
        modbus_free(ctx)
        context = nil
    }
}
