import CModbus
import Foundation
import Synchronization

/// One Modbus connection (a TCP connection or a serial line) owned by a thread of its own.
///
/// Requests from any task queue up and run one at a time on that thread, each with its unit id, so
/// several units behind one TCP gateway, or on one serial line, share it safely. The link opens
/// itself on first use and after a lost connection; libmodbus's own error recovery stays off
/// (MODBUS_ERROR_RECOVERY_LINK can hang forever against a dead server); after a timeout or a bad
/// frame a TCP connection is reopened (a serial line flushed), so a late answer cannot be taken for
/// the next one.
public final class ModbusLink: @unchecked Sendable {
    /// Where the link goes.
    public let endpoint: Endpoint
    /// Transactions sent (answered or not), for tests and benchmarks.
    public var transactions: Int { transactionCount.load(ordering: .relaxed) }

    private let worker: BlockingWorker
    private let transactionCount = Atomic<Int>(0)
    private let defaultTimeout: Duration
    // Touched on the worker thread only:
    private var context: OpaquePointer?
    private var lastFrameEnd: ContinuousClock.Instant?
    private var currentTimeout: Duration?

    /// Creates a link (nothing is opened until the first request).
    public init(endpoint: Endpoint, timeout: Duration = .seconds(1)) {
        self.endpoint = endpoint
        self.defaultTimeout = timeout
        self.worker = BlockingWorker(name: "modbus \(endpoint)", stackSize: 256 * 1024)
    }

    deinit {
        // No job holds the link any more, so its thread is idle: close here, then let the thread end.
        closeContext()
        worker.stop()
    }

    /// Reads `count` registers (1...125) of `unit` from `address`.
    public func read(
        unit: Int, address: Int, count: Int, kind: RegisterKind = .holding, timeout: Duration? = nil
    ) async throws(ModbusError) -> [UInt16] {
        let result: Result<[UInt16], ModbusError> = await withCheckedContinuation { continuation in
            let queued = worker.submit { [self] in
                continuation.resume(
                    returning: self.performRead(unit: unit, address: address, count: count, kind: kind, timeout: timeout ?? defaultTimeout))
            }
            if !queued {
                continuation.resume(
                    returning: .failure(ModbusError(.connectionLost("link closed"), operation: "read", unit: unit, address: address)))
            }
        }
        return try result.get()
    }

    /// Closes the connection now (after queued requests); the next request opens it again.
    public func disconnect() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !worker.submit({ [self] in
                self.closeContext()
                continuation.resume()
            }) {
                continuation.resume()
            }
        }
    }

    /// Stops the link's thread after the queued requests, closing the connection.
    public func shutdown() {
        worker.stop(last: { [self] in self.closeContext() })
        worker.waitUntilFinished()
    }

    // MARK: - On the link's thread

    private func performRead(unit: Int, address: Int, count: Int, kind: RegisterKind, timeout: Duration) -> Result<[UInt16], ModbusError> {
        let operation = kind == .holding ? "read holding registers" : "read input registers"
        guard (1...125).contains(count), address >= 0, address + count <= 65536 else {
            return .failure(
                ModbusError(.invalidRequest("\(count) registers at \(address)"), operation: operation, unit: unit, address: address))
        }
        if let error = openIfNeeded(timeout: timeout, unit: unit) { return .failure(error) }
        guard let ctx = context else { return .failure(ModbusError(.connectionLost("not open"), operation: "connect", unit: unit)) }
        if currentTimeout != timeout { setTimeout(ctx, timeout) }
        modbus_set_slave(ctx, Int32(unit))
        waitForLineSilence()
        var registers = [UInt16](repeating: 0, count: count)
        let rc = registers.withUnsafeMutableBufferPointer { buf in
            kind == .holding
                ? modbus_read_registers(ctx, Int32(address), Int32(count), buf.baseAddress)
                : modbus_read_input_registers(ctx, Int32(address), Int32(count), buf.baseAddress)
        }
        let code = cmodbus_errno()
        lastFrameEnd = .now
        transactionCount.add(1, ordering: .relaxed)
        if rc == Int32(count) { return .success(registers) }
        let error =
            rc < 0
            ? ModbusError.fromErrno(code, operation: operation, unit: unit, address: address)
            : ModbusError(.badResponse("\(rc) registers instead of \(count)"), operation: operation, unit: unit, address: address)
        switch error.kind {
        case .timeout, .badResponse:
            // A late answer would be taken for the next transaction's (libmodbus 3.1.6 then reports
            // bad data forever, one answer behind). On TCP the connection is dropped and reopened by
            // the next request; on a serial line the late frame is let in, then flushed.
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
        return .failure(error)
    }

    private func openIfNeeded(timeout: Duration, unit: Int) -> ModbusError? {
        if context != nil { return nil }
        let ctx: OpaquePointer?
        switch endpoint {
        case .tcp(let host, let port):
            ctx = modbus_new_tcp_pi(host, String(port))
        case .rtu(let s):
            let parity: CChar =
                switch s.parity {
                case .none: CChar(UInt8(ascii: "N"))
                case .even: CChar(UInt8(ascii: "E"))
                case .odd: CChar(UInt8(ascii: "O"))
                }
            ctx = modbus_new_rtu(s.port, Int32(s.baud), parity, Int32(s.dataBits), Int32(s.stopBits))
        }
        guard let ctx else {
            return ModbusError.fromErrno(cmodbus_errno(), operation: "create context for \(endpoint)", unit: unit, address: nil)
        }
        modbus_set_error_recovery(ctx, MODBUS_ERROR_RECOVERY_NONE)
        setTimeout(ctx, timeout)
        if modbus_connect(ctx) != 0 {
            let code = cmodbus_errno()
            modbus_free(ctx)
            var error = ModbusError.fromErrno(code, operation: "connect to \(endpoint)", unit: unit, address: nil)
            if case .system(let c, let why) = error.kind {
                error = ModbusError(.connectionLost("\(why) (\(c))"), operation: error.operation, unit: unit)
            }
            return error
        }
        // libmodbus waits for answers with select(): a descriptor of FD_SETSIZE (1024) or more would
        // overflow its fd_set. Refuse such a connection rather than corrupt memory.
        if modbus_get_socket(ctx) >= 1024 {
            modbus_close(ctx)
            modbus_free(ctx)
            return ModbusError(
                .system(
                    EMFILE, "socket descriptor 1024 or above: libmodbus's select() cannot watch it (too many connections in one process)"),
                operation: "connect to \(endpoint)", unit: unit)
        }
        context = ctx
        lastFrameEnd = nil
        return nil
    }

    private func setTimeout(_ ctx: OpaquePointer, _ timeout: Duration) {
        let micros = max(1000, timeout.components.seconds * 1_000_000 + timeout.components.attoseconds / 1_000_000_000_000)
        modbus_set_response_timeout(ctx, UInt32(micros / 1_000_000), UInt32(micros % 1_000_000))
        // Between the bytes of one frame: generous on a serial line, the same bound on TCP.
        modbus_set_byte_timeout(ctx, UInt32(micros / 1_000_000), UInt32(micros % 1_000_000))
        currentTimeout = timeout
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

    private func closeContext() {
        guard let ctx = context else { return }
        modbus_close(ctx)
        modbus_free(ctx)
        context = nil
    }
}
