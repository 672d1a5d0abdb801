import Synchronization

/// What a device's runner can be asked to do between its polls.
public enum DeviceCommand: Sendable, Equatable {
    /// Poll now, without waiting for the next interval.
    case pollNow
    /// Discover the device's map again (after a firmware update, say).
    case rediscover(reason: String)
    /// Write, read or beat the heart of a point (see `submit(_:limit:)`).
    case control(ControlJob)

    var isControl: Bool {
        if case .control = self { return true }
        return false
    }
}

/// What became of a control job sent to an inbox.
enum ControlSubmission {
    /// Queued for the runner.
    case queued
    /// The runner is not serving controls (the device is not online).
    case offline
    /// Too many control jobs are queued already.
    case busy
}

/// A device runner's inbox: commands from anywhere, served by the runner between polls in the order
/// they came. Sending never waits.
public final class DeviceInbox: Sendable {
    private struct State {
        var queue: [DeviceCommand] = []
        var waiter: CheckedContinuation<DeviceCommand?, Never>?
        var waiterID = 0
        /// Whether control jobs are taken (only while the device is online).
        var controlsOpen = false
    }

    private let state = Mutex(State())

    /// An empty inbox.
    public init() {}

    /// Queues a command for the runner.
    public func send(_ command: DeviceCommand) {
        let waiter = state.withLock { s -> CheckedContinuation<DeviceCommand?, Never>? in
            if let waiter = s.waiter {
                s.waiter = nil
                return waiter
            }
            s.queue.append(command)
            return nil
        }
        waiter?.resume(returning: command)
    }

    /// Queues a control job, unless the runner does not take controls now or `limit` are queued.
    func submit(_ job: ControlJob, limit: Int) -> ControlSubmission {
        let result = state.withLock { s -> (ControlSubmission, CheckedContinuation<DeviceCommand?, Never>?) in
            guard s.controlsOpen else { return (.offline, nil) }
            if let waiter = s.waiter {
                s.waiter = nil
                return (.queued, waiter)
            }
            guard s.queue.count(where: \.isControl) < limit else { return (.busy, nil) }
            s.queue.append(.control(job))
            return (.queued, nil)
        }
        result.1?.resume(returning: .control(job))
        return result.0
    }

    /// Starts taking control jobs (the device is online).
    func openControls() {
        state.withLock { $0.controlsOpen = true }
    }

    /// Stops taking control jobs and hands back the ones queued, to be refused.
    func closeControls() -> [ControlJob] {
        state.withLock { s in
            s.controlsOpen = false
            let jobs = s.queue.compactMap { command -> ControlJob? in
                if case .control(let job) = command { return job }
                return nil
            }
            s.queue.removeAll(where: \.isControl)
            return jobs
        }
    }

    /// The next command, if one is queued now.
    func take() -> DeviceCommand? {
        state.withLock { s in s.queue.isEmpty ? nil : s.queue.removeFirst() }
    }

    /// Puts a command taken but not served back at the head of the queue.
    func putBack(_ command: DeviceCommand) {
        state.withLock { s in s.queue.insert(command, at: 0) }
    }

    /// The next command, waiting for it; nil when the task is cancelled first.
    func next() async -> DeviceCommand? {
        if let command = take() { return command }
        let id = state.withLock { s -> Int in
            s.waiterID += 1
            return s.waiterID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<DeviceCommand?, Never>) in
                let resumeNow = state.withLock { s -> DeviceCommand?? in
                    if !s.queue.isEmpty { return .some(s.queue.removeFirst()) }
                    if Task.isCancelled { return .some(nil) }
                    s.waiter = continuation
                    s.waiterID = id
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<DeviceCommand?, Never>? in
                guard s.waiterID == id, let waiter = s.waiter else { return nil }
                s.waiter = nil
                return waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}
