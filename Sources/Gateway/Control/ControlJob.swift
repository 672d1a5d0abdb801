import Modbus
import SunSpec
import Synchronization

/// One point of a control job and the value to write there, in engineering units.
public struct ControlWrite: Sendable {
    /// The allowed point.
    public let point: AllowedPoint
    /// The value.
    public let value: SetpointValue

    /// Creates a write.
    public init(point: AllowedPoint, value: SetpointValue) {
        self.point = point
        self.value = value
    }
}

/// What a device runner is asked to do on its device.
public enum ControlAction: Sendable {
    /// Write these points (checked whole before anything is written), in order, then read them back.
    case write([ControlWrite])
    /// Read one point from the device now.
    case get(AllowedPoint)
    /// Write the heartbeat point (not read back).
    case heartbeat(PointPath, PointDefinition, value: UInt64)

    /// How many outcomes the action has.
    var count: Int {
        if case .write(let writes) = self { return writes.count }
        return 1
    }
}

/// A control action on its way to a device runner, and the way its outcome (one per point) comes back.
/// Finished exactly once: by the runner, or refused (`offline`) when the runner stops serving controls.
public final class ControlJob: Sendable, Equatable {
    /// What to do.
    public let action: ControlAction
    /// Records the writes in the audit immediately before they go out (nil: writes not recorded
    /// ahead, a `get` or a heartbeat's beat after the first of a run).
    let intent: ControlIntent?
    private let reply: Mutex<CheckedContinuation<[ControlOutcome], Never>?>

    init(action: ControlAction, intent: ControlIntent?, reply: CheckedContinuation<[ControlOutcome], Never>) {
        self.action = action
        self.intent = intent
        self.reply = Mutex(reply)
    }

    /// Hands the outcomes back (a second call does nothing).
    func finish(_ outcomes: [ControlOutcome]) {
        reply.withLock { $0.take() }?.resume(returning: outcomes)
    }

    /// Answers every point with the same outcome.
    func finish(all outcome: ControlOutcome) {
        finish(Array(repeating: outcome, count: action.count))
    }

    /// Submits an action to an inbox and waits for its outcomes: `offline` at once when the device's runner
    /// is not serving controls, `busy` when `limit` jobs are queued already. The runner calls `intent`
    /// immediately before it writes.
    static func run(_ action: ControlAction, intent: ControlIntent?, on inbox: DeviceInbox, limit: Int) async -> [ControlOutcome] {
        await withCheckedContinuation { continuation in
            let job = ControlJob(action: action, intent: intent, reply: continuation)
            switch inbox.submit(job, limit: limit) {
            case .queued: break
            case .offline: job.finish(all: ControlOutcome(.offline, error: "the device is not online"))
            case .busy: job.finish(all: ControlOutcome(.busy, error: "\(limit) control requests are queued for the device already"))
            }
        }
    }

    public static func == (a: ControlJob, b: ControlJob) -> Bool { a === b }
}
