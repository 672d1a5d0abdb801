import Foundation
import Synchronization
import Testing

@testable import Modbus

/// Something a job captures, to see when it is let go.
private final class Captured: Sendable {}

/// What the tasks of a test got back, and when.
private struct Outcome: Sendable {
    let kind: ModbusError.Kind?
    let at: ContinuousClock.Instant

    /// Reads one register and says how it went.
    static func read(_ link: ModbusLink, address: Int) async -> Outcome {
        do throws(ModbusError) {
            _ = try await link.read(unit: 1, address: address, count: 1)
            return Outcome(kind: nil, at: .now)
        } catch {
            return Outcome(kind: error.kind, at: .now)
        }
    }
}

@Suite("A link's jobs, cancellation and close")
struct LinkLifetimeTests {
    // MARK: - The worker

    @Test("a finished job lets go of what it captured at once")
    func finishedJobReleased() async {
        let worker = BlockingWorker(name: "test")
        weak var watched: Captured?
        do {
            let captured = Captured()
            watched = captured
            worker.submit { _ in withExtendedLifetime(captured) {} }
        }
        // The next job runs once the first has been taken and has ended.
        await withCheckedContinuation { (ran: CheckedContinuation<Void, Never>) in
            worker.submit { _ in ran.resume() }
        }
        #expect(watched == nil)
        worker.stop()
        await worker.finished()
    }

    @Test("stopping drops the queued jobs at once, lets the running one finish, then runs the last job")
    func stopDropsQueued() async {
        let worker = BlockingWorker(name: "test")
        let order = Mutex<[String]>([])
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        worker.submit { turn in
            started.signal()
            release.wait()
            order.withLock { $0.append("first \(turn)") }
        }
        for i in 0..<3 { worker.submit { turn in order.withLock { $0.append("\(i) \(turn)") } } }
        started.wait()
        worker.stop(last: { order.withLock { $0.append("last") } })
        #expect(order.withLock { $0 } == ["0 dropped", "1 dropped", "2 dropped"])
        #expect(!worker.submit { _ in order.withLock { $0.append("late") } })
        release.signal()
        await worker.finished()
        #expect(order.withLock { $0 } == ["0 dropped", "1 dropped", "2 dropped", "first run", "last"])
    }

    @Test("a request cancelled in the queue is answered at once, and its job then does nothing")
    func cancelledInQueue() async {
        let worker = BlockingWorker(name: "test")
        let release = DispatchSemaphore(value: 0)
        worker.submit { _ in release.wait() }  // the thread is busy: the request waits in the queue
        let cancelled = ModbusError(.cancelled, operation: "test")
        let request = PendingRequest<Int>(cancelled: cancelled)
        let (queued, queuedEvent) = AsyncStream.makeStream(of: Void.self)
        let jobStarted = Mutex<Bool?>(nil)
        let (jobDone, jobDoneEvent) = AsyncStream.makeStream(of: Void.self)
        let task = Task {
            await request.answer(
                submit: { request in
                    defer { queuedEvent.yield() }
                    return worker.submit { _ in
                        let started = request.start()
                        jobStarted.withLock { $0 = started }
                        if started { request.finish(.success(1)) }
                        jobDoneEvent.yield()
                    }
                }, closed: ModbusError(.connectionLost("link closed"), operation: "test"))
        }
        for await _ in queued { break }
        task.cancel()
        #expect(await task.value == .failure(cancelled))
        #expect(jobStarted.withLock { $0 } == nil)  // answered before its job came up
        release.signal()
        for await _ in jobDone { break }
        #expect(jobStarted.withLock { $0 } == false)
        worker.stop()
        await worker.finished()
    }

    // MARK: - A link to a device that never answers

    @Test("ten requests queued on one link and cancelled: one went on the wire, the rest fail at once")
    func cancelQueuedRequests() async throws {
        let (arrivals, arrived) = AsyncStream.makeStream(of: Int.self)
        let server = try RogueServer { _, index in
            arrived.yield(index)
            return []
        }
        defer { server.stop() }
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .seconds(2))
        let tasks = (0..<10).map { i in
            Task { await Outcome.read(link, address: i) }
        }
        for await _ in arrivals { break }  // the first request is on the wire
        let cancelledAt = ContinuousClock.now
        for task in tasks { task.cancel() }
        var outcomes: [Outcome] = []
        for task in tasks { outcomes.append(await task.value) }
        let cancelled = outcomes.filter { $0.kind == .cancelled }
        let timedOut = outcomes.filter { $0.kind == .timeout }
        #expect(cancelled.count == 9)
        #expect(timedOut.count == 1)
        // Well under one timeout for the cancelled ones; the one on the wire ran to its timeout.
        #expect(cancelled.allSatisfy { $0.at - cancelledAt < .seconds(1) })
        #expect(timedOut.allSatisfy { $0.at - cancelledAt < .seconds(3) })
        await link.shutdown()
        #expect(server.requests == 1)
        #expect(link.transactions == 1)
    }

    @Test("a request made by a cancelled task never goes on the wire")
    func alreadyCancelled() async throws {
        let server = try RogueServer { _, _ in [] }
        defer { server.stop() }
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .seconds(5))
        let task = Task { () -> Outcome in
            withUnsafeCurrentTask { $0?.cancel() }
            return await Outcome.read(link, address: 0)
        }
        #expect(await task.value.kind == .cancelled)
        await link.shutdown()
        #expect(link.transactions == 0)
        #expect(server.requests == 0)
    }

    @Test("closing a link fails its queued requests at once; the one on the wire times out; later ones fail")
    func shutdownFailsQueued() async throws {
        let (arrivals, arrived) = AsyncStream.makeStream(of: Int.self)
        let server = try RogueServer { _, index in
            arrived.yield(index)
            return []
        }
        defer { server.stop() }
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .seconds(2))
        let tasks = (0..<5).map { i in
            Task { await Outcome.read(link, address: i) }
        }
        for await _ in arrivals { break }
        let closedAt = ContinuousClock.now
        await link.shutdown()
        let shutDown = ContinuousClock.now
        var outcomes: [Outcome] = []
        for task in tasks { outcomes.append(await task.value) }
        let closed = outcomes.filter { $0.kind == .connectionLost("link closed") }
        #expect(closed.count == 4)
        #expect(closed.allSatisfy { $0.at - closedAt < .seconds(1) })
        #expect(outcomes.filter { $0.kind == .timeout }.count == 1)
        #expect(shutDown - closedAt < .seconds(3))
        await #expect(throws: ModbusError(.connectionLost("link closed"), operation: "read holding registers", unit: 1, address: 0)) {
            try await link.read(unit: 1, address: 0, count: 1)
        }
        #expect(server.requests == 1)
    }
}
