import Synchronization

/// A request queued on a link's thread, answered exactly once: by its job, by the cancellation of
/// its task while it waits in the queue, or by the link closing first.
///
/// Once its job has started (the request is on the wire), a cancellation changes nothing: the job
/// answers. A job that comes up after its request was answered does nothing.
final class PendingRequest<Value: Sendable>: Sendable {
    typealias Answer = Result<Value, ModbusError>

    private enum State {
        /// Made, no continuation yet.
        case created
        /// Cancelled before the continuation was there.
        case cancelledEarly
        /// In the queue.
        case waiting(CheckedContinuation<Answer, Never>)
        /// Its job is running.
        case running(CheckedContinuation<Answer, Never>)
        /// Answered.
        case answered
    }

    private let state = Mutex(State.created)
    /// Set once its task is cancelled, whatever the state: a running job of several requests stops
    /// between them.
    private let cancelAsked = Atomic<Bool>(false)
    /// The answer when the task is cancelled before the job starts.
    private let cancelled: ModbusError

    init(cancelled: ModbusError) {
        self.cancelled = cancelled
    }

    /// Waits for the answer; `submit` queues the job, and says whether it could.
    func answer(submit: (PendingRequest) -> Bool, closed: ModbusError) async -> Answer {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Answer, Never>) in
                let early = state.withLock { state in
                    if case .cancelledEarly = state {
                        state = .answered
                        return true
                    }
                    state = .waiting(continuation)
                    return false
                }
                if early {
                    continuation.resume(returning: .failure(cancelled))
                } else if !submit(self) {
                    finish(.failure(closed))
                }
            }
        } onCancel: {
            cancel()
        }
    }

    /// Called by the job on the link's thread: true when it is to run, false when the request was
    /// answered already (its task was cancelled) and the job must do nothing.
    func start() -> Bool {
        state.withLock { state in
            guard case .waiting(let continuation) = state else { return false }
            state = .running(continuation)
            return true
        }
    }

    /// Answers the request, unless it was answered already.
    func finish(_ answer: Answer) {
        let continuation: CheckedContinuation<Answer, Never>? = state.withLock { state in
            switch state {
            case .waiting(let c), .running(let c):
                state = .answered
                return c
            case .created, .cancelledEarly, .answered:
                return nil
            }
        }
        continuation?.resume(returning: answer)
    }

    /// Whether the request's task was cancelled (also while its job runs).
    var isCancelRequested: Bool { cancelAsked.load(ordering: .acquiring) }

    private func cancel() {
        cancelAsked.store(true, ordering: .releasing)
        let continuation: CheckedContinuation<Answer, Never>? = state.withLock { state in
            switch state {
            case .created:
                state = .cancelledEarly
                return nil
            case .waiting(let c):
                state = .answered
                return c
            case .cancelledEarly, .running, .answered:
                return nil
            }
        }
        continuation?.resume(returning: .failure(cancelled))
    }
}
