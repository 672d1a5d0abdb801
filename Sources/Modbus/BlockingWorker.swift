import Foundation

/// A thread of its own that runs blocking jobs (libmodbus calls) one at a time, in order, so they
/// never occupy Swift's cooperative pool.
final class BlockingWorker: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var stopping = false
    private var finished = false

    /// Starts the thread.
    init(name: String, stackSize: Int = 512 * 1024) {
        // The thread keeps the worker alive until `stop` lets it end.
        let thread = Thread { self.run() }
        thread.name = name
        thread.stackSize = stackSize
        thread.start()
    }

    /// Queues a job; false when the worker is stopping (the job will not run).
    @discardableResult
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Runs the jobs already queued, then ends the thread; `last` runs after them, on the thread.
    func stop(last: (@Sendable () -> Void)? = nil) {
        condition.lock()
        if !stopping, let last { jobs.append(last) }
        stopping = true
        condition.signal()
        condition.unlock()
    }

    /// Blocks until the thread has ended (for tests and shutdown).
    func waitUntilFinished() {
        condition.lock()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while head == jobs.count && !stopping { condition.wait() }
            if head == jobs.count && stopping {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            if head > 64 && head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job()
        }
    }
}
