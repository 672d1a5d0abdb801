import Modbus
import SunSpec

/// What became of a control request. The raw values are the `result` field of answers and audit lines.
public enum ControlResult: String, Sendable, CaseIterable {
    /// Written and read back equal.
    case applied
    /// A `get` or `capabilities` answered.
    case ok
    /// The point is not in the device's allow list (or the device takes no control).
    case notAllowed = "not_allowed"
    /// No device of that name.
    case unknownDevice = "unknown_device"
    /// No such point in the model (or the device's map has no such instance).
    case unknownPoint = "unknown_point"
    /// Outside min/max or `values`, or a raw value outside its type or equal to its not-implemented value.
    case outOfRange = "out_of_range"
    /// Not an exact multiple of the device's current scale factor.
    case notRepresentable = "not_representable"
    /// The scale factor was never read or is not implemented; or the audit cannot be written.
    case precondition
    /// The device is not online.
    case offline
    /// Sooner than the point's `min_interval` after its last write.
    case rateLimited = "rate_limited"
    /// The device's queue of control requests is full.
    case busy
    /// The device answered the write with a Modbus exception (`code`).
    case deviceException = "device_exception"
    /// Written, but the value read back differs.
    case notApplied = "not_applied"
    /// No answer and no read-back: the outcome is unknown.
    case timeout
    /// Not a request the gateway understands (`error` says why).
    case badRequest = "bad_request"

    /// The exit status of `sunspec-gateway control` for this result (docs/control.md).
    public var exitStatus: Int32 {
        switch self {
        case .applied, .ok: 0
        case .notApplied: 1
        case .timeout: 2
        case .deviceException: 3
        case .offline: 4
        case .busy: 5
        case .rateLimited: 6
        case .precondition: 7
        case .outOfRange: 8
        case .notRepresentable: 9
        case .notAllowed: 10
        case .unknownPoint: 11
        case .unknownDevice: 12
        case .badRequest: 64
        }
    }

    /// The Modbus exception a SunSpec-export write gets for this result (nil: the normal response).
    public var exportException: UInt8? {
        switch self {
        case .applied, .ok: nil
        case .notAllowed, .unknownPoint, .unknownDevice, .badRequest: 2
        case .outOfRange, .notRepresentable: 3
        case .deviceException, .notApplied, .timeout, .precondition: 4
        case .busy, .rateLimited: 6
        case .offline: 0x0B
        }
    }
}

/// The registers a control request wrote (or would have): where, what, with which function.
public struct WriteRecord: Sendable, Equatable {
    /// First register (the address on the wire).
    public var address: Int
    /// The raw registers.
    public var registers: [UInt16]
    /// 6 or 16.
    public var function: WriteFunction

    /// Creates a record.
    public init(address: Int, registers: [UInt16], function: WriteFunction) {
        self.address = address
        self.registers = registers
        self.function = function
    }
}

/// What one point of a control request came to on the device.
public struct ControlOutcome: Sendable, Equatable {
    /// The result.
    public var result: ControlResult
    /// What was written (nil: nothing went to the device).
    public var write: WriteRecord?
    /// The value the latest poll had, before the write.
    public var before: SetpointValue?
    /// The value read back after the write (or read by a `get`).
    public var readback: SetpointValue?
    /// The Modbus exception code of a `device_exception`.
    public var code: UInt8?
    /// Why, in words, when it is not `applied`.
    public var error: String?

    /// Creates an outcome.
    public init(
        _ result: ControlResult, write: WriteRecord? = nil, before: SetpointValue? = nil, readback: SetpointValue? = nil,
        code: UInt8? = nil,
        error: String? = nil
    ) {
        self.result = result
        self.write = write
        self.before = before
        self.readback = readback
        self.code = code
        self.error = error
    }
}

/// A refusal is an outcome too (`Result<_, ControlOutcome>`).
extension ControlOutcome: Error {}

/// Who sent a control request.
public enum ControlClient: Sendable, Equatable {
    /// A process on the control socket (from its peer credentials).
    case socket(uid: UInt32, pid: Int32)
    /// A SCADA writing through the SunSpec export, from `IP:PORT`.
    case export(String)
    /// A Sparkplug B host's DCMD, by its topic (`spBv1.0/{group}/DCMD/{node}/{device}`): MQTT 3.1.1
    /// tells a subscriber nothing of who published.
    case mqtt(String)
    /// The gateway itself: a ttl that ran out, a shutdown, a heartbeat.
    case gateway(String)
}
