import Foundation

/// A thread of its own that runs blocking jobs (libmodbus calls) one at a time, in order, so they
/// never occupy Swift's cooperative pool.
///
/// A job is let go as soon as it is taken from the queue: what it captured (a link, a continuation)
/// lives no longer than the job itself.
///
/// `@unchecked Sendable` is sound: every stored `var` is read and written only while `condition` is
/// locked (a condition variable, which `Mutex` has no wait for, so the compiler cannot see the guard).
final class BlockingWorker: @unchecked Sendable {
    /// How a job is called: in its turn on the thread, or never, because the worker stopped first.
    enum Turn: Sendable, Equatable {
        /// On the worker's thread, in the job's turn.
        case run
        /// Not run: the worker stopped before the job's turn (called on the thread that stopped it).
        case dropped
    }

    /// A queued job.
    typealias Job = @Sendable (Turn) -> Void

    private let condition = NSCondition()
    /// Queued jobs from `head` on; a slot is emptied when its job is taken.
    private var jobs: [Job?] = []
    private var head = 0
    /// Runs on the thread after the last job, once stopping.
    private var last: (@Sendable () -> Void)?
    private var stopping = false
    private var finished = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Starts the thread.
    init(name: String, stackSize: Int = 512 * 1024) {
        // The thread keeps the worker alive until `stop` lets it end.
        let thread = Thread { self.run() }
        thread.name = name
        thread.stackSize = stackSize
        thread.start()
    }

    /// Queues a job; false when the worker is stopping (the job is not kept and will not be called).
    @discardableResult
    func submit(_ job: @escaping Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Stops the worker: the jobs still queued are called with `.dropped` at once, here; the job
    /// running, if any, finishes; then `last` runs on the thread and the thread ends.
    func stop(last: (@Sendable () -> Void)? = nil) {
        condition.lock()
        let dropped = stopping ? [] : jobs[head...].compactMap { $0 }
        if !stopping {
            jobs.removeAll()
            head = 0
            self.last = last
            stopping = true
        }
        condition.signal()
        condition.unlock()
        for job in dropped { job(.dropped) }
    }

    /// Returns once the thread has ended (resumed from the thread as it ends).
    func finished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            if finished {
                condition.unlock()
                continuation.resume()
            } else {
                waiters.append(continuation)
                condition.unlock()
            }
        }
    }

    // MARK: - On the thread

    private func run() {
        while let job = next() {
            job(.run)
        }
        condition.lock()
        let last = self.last
        self.last = nil
        condition.unlock()
        last?()
        condition.lock()
        finished = true
        let waiting = waiters
        waiters = []
        condition.unlock()
        for waiter in waiting { waiter.resume() }
    }

    /// The next job, taken out of the queue (its slot emptied); nil once stopping.
    private func next() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count && !stopping { condition.wait() }
        guard !stopping, let job = jobs[head] else { return nil }
        jobs[head] = nil
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }
}
