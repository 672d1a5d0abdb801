import Synchronization

/// What a device's runner can be asked to do between its polls.
public enum DeviceCommand: Sendable, Equatable {
    /// Poll now, without waiting for the next interval.
    case pollNow
    /// Discover the device's map again (after a firmware update, say).
    case rediscover(reason: String)
}

/// A device runner's inbox: commands from anywhere, served by the runner between polls in the order
/// they came. Sending never waits.
public final class DeviceInbox: Sendable {
    private struct State {
        var queue: [DeviceCommand] = []
        var waiter: CheckedContinuation<DeviceCommand?, Never>?
        var waiterID = 0
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
