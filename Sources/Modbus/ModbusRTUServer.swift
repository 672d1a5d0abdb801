import CModbus
import Foundation
import Synchronization

/// A Modbus RTU server over libmodbus on a serial line, for the simulator: one unit id per line
/// (libmodbus drops RTU requests for other units before the caller sees them). Replies are built
/// by `ModbusResponder`, as on TCP; a dropped line (a pty whose other end went away) is reopened after a pause
/// instead of spinning.
public final class ModbusRTUServer: Sendable {
    /// The serial line.
    public let settings: SerialSettings
    /// The unit id served.
    public let unit: UInt8
    /// Requests answered.
    public var requests: Int { requestCount.load(ordering: .relaxed) }

    private let responder: ModbusResponder
    private let requestCount = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)

    /// Creates a server for `unit` on the line.
    public init(settings: SerialSettings, unit: UInt8, source: any RegisterSource) {
        self.settings = settings
        self.unit = unit
        self.responder = ModbusResponder(source: source)
    }

    /// Opens the line (an error if it cannot be opened now) and serves it on a thread of its own.
    public func start() throws(ModbusError) {
        let ctx = UncheckedPointer(try open())
        let thread = Thread { [self] in serve(first: ctx.pointer) }
        thread.name = "modbus rtu server \(settings.port)"
        thread.stackSize = 256 * 1024
        thread.start()
    }

    /// Stops serving (within a second).
    public func stop() { stopping.store(true, ordering: .relaxed) }

    private func open() throws(ModbusError) -> OpaquePointer {
        let parity: CChar =
            switch settings.parity {
            case .none: CChar(UInt8(ascii: "N"))
            case .even: CChar(UInt8(ascii: "E"))
            case .odd: CChar(UInt8(ascii: "O"))
            }
        guard let ctx = modbus_new_rtu(settings.port, Int32(settings.baud), parity, Int32(settings.dataBits), Int32(settings.stopBits))
        else {
            throw ModbusError.fromErrno(cmodbus_errno(), operation: "open \(settings.port)", unit: Int(unit), address: nil)
        }
        guard modbus_set_slave(ctx, Int32(unit)) == 0 else {
            modbus_free(ctx)
            throw ModbusError(.invalidRequest("libmodbus refused unit \(unit) on a serial line"), operation: "open \(settings.port)")
        }
        guard modbus_connect(ctx) == 0 else {
            let code = cmodbus_errno()
            modbus_free(ctx)
            throw ModbusError.fromErrno(code, operation: "open \(settings.port)", unit: Int(unit), address: nil)
        }
        // Wake up every second to notice `stop`; a frame that stops half way is dropped.
        modbus_set_indication_timeout(ctx, 1, 0)
        modbus_set_byte_timeout(ctx, 0, 100_000)
        return ctx
    }

    private func serve(first: OpaquePointer) {
        var context: OpaquePointer? = first
        var query = [UInt8](repeating: 0, count: 256)
        while !stopping.load(ordering: .relaxed) {
            guard let ctx = context else {
                usleep(200_000)
                context = try? open()
                continue
            }
            let rc = query.withUnsafeMutableBufferPointer { modbus_receive(ctx, $0.baseAddress) }
            if rc > 0 {
                // On RTU the frame libmodbus hands over ends with its CRC (checked already): not part of the PDU.
                let request = Array(query[0..<Int(rc)])
                guard request.count >= 4 else { continue }
                let pdu = responder.replyPDU(unit: request[0], function: request[1], body: request[2..<(request.count - 2)])
                requestCount.add(1, ordering: .relaxed)
                let frame = [request[0]] + pdu
                _ = frame.withUnsafeBufferPointer { modbus_send_raw_request(ctx, $0.baseAddress, Int32($0.count)) }
                continue
            }
            if rc == 0 { continue }
            switch cmodbus_errno() {
            case ETIMEDOUT, CMODBUS_EMBBADCRC, CMODBUS_EMBBADDATA, EINTR:
                modbus_flush(ctx)
            default:
                // The line went away: close it, pause, open it again.
                modbus_close(ctx)
                modbus_free(ctx)
                context = nil
            }
        }
        if let ctx = context {
            modbus_close(ctx)
            modbus_free(ctx)
        }
    }
}

/// A libmodbus context handed to the one thread that will use it.
///
/// `@unchecked` is sound because of how `start` uses it: the context is opened there, wrapped, and
/// from then on touched only by the serving thread (which also frees it); `start` keeps no other
/// reference. The compiler cannot see that hand-off (a `Thread` block is `@Sendable`), hence the wrapper.
private struct UncheckedPointer: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}
