import Synchronization

/// Runs an action once the last of `count` parts has said it is ready (each says so once).
final class ReadyGate: Sendable {
    private let remaining: Atomic<Int>
    private let action: (@Sendable () -> Void)?

    init(count: Int, then action: (@Sendable () -> Void)?) {
        remaining = Atomic(count)
        self.action = action
    }

    /// One part is ready; the last one runs the action.
    func arrive() {
        if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { action?() }
    }
}
