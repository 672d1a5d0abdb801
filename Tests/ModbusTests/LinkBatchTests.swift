import Foundation
import Modbus
import ModbusNIO
import Synchronization
import Testing

/// A link observer that counts the requests it hears of.
private final class RequestCounter: LinkObserver, Sendable {
    private let counts = Mutex((requests: 0, failures: 0))
    var requests: Int { counts.withLock { $0.requests } }
    var failures: Int { counts.withLock { $0.failures } }
    func linkOpened(first: Bool) {}
    func requestEnded(busy: Duration, error: ModbusError?) {
        counts.withLock {
            $0.requests += 1
            if error != nil { $0.failures += 1 }
        }
    }
}

@Suite("A batch of reads in one turn of a link's thread", .serialized)
struct LinkBatchTests {
    let registers = (0..<300).map { UInt16($0 * 3) }

    @Test("a batch reads what the same reads one by one read, one request each, each told to the observer")
    func sameAsSingleReads() async throws {
        let server = ModbusServer(port: 0, source: TestSource(registers: registers))
        try await serving(server) { (port: Int) async throws in
            let observer = RequestCounter()
            let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: port), timeout: .seconds(1), observer: observer)
            let ranges = [40000..<40125, 40125..<40250, 40250..<40300]
            let stamps = Mutex(0)
            let answers = await link.read(
                unit: 1, ranges: ranges, kind: .holding,
                wall: {
                    stamps.withLock { $0 += 1 }
                    return Date(timeIntervalSince1970: 1000)
                })
            #expect(answers.count == 3)
            for (answer, range) in zip(answers, ranges) {
                #expect(try answer.get().registers == Array(registers[(range.lowerBound - 40000)..<(range.upperBound - 40000)]))
                #expect(try answer.get().arrived == Date(timeIntervalSince1970: 1000))
            }
            #expect(stamps.withLock { $0 } == 3)
            #expect(link.transactions == 3)
            #expect(server.requests == 3)
            #expect(observer.requests == 3)
            await link.shutdown()
        }
    }

    @Test("a batch stops at the first read that fails: its error is the last answer, nothing after it is sent")
    func stopsAtFailure() async throws {
        let server = ModbusServer(port: 0, source: TestSource(registers: registers))
        try await serving(server) { (port: Int) async throws in
            let observer = RequestCounter()
            let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: port), timeout: .seconds(1), observer: observer)
            // The second read runs past the served registers: exception 2.
            let answers = await link.read(unit: 1, ranges: [40000..<40010, 40290..<40310, 40010..<40020])
            #expect(answers.count == 2)
            #expect(try answers[0].get().registers == Array(registers[0..<10]))
            guard case .failure(let error) = answers[1] else {
                Issue.record("the second read should have failed, got \(answers[1])")
                return
            }
            #expect(error.isException(2))
            #expect(error.address == 40290)
            #expect(server.requests == 2)
            #expect(observer.requests == 2)
            #expect(observer.failures == 1)
            // The link stays usable.
            #expect(try await link.read(unit: 1, address: 40010, count: 10) == Array(registers[10..<20]))
            await link.shutdown()
        }
    }

    @Test("a batch whose task is cancelled while one read is on the wire sends no further read")
    func cancelledBetweenReads() async throws {
        let (arrivals, arrived) = AsyncStream.makeStream(of: Int.self)
        let release = DispatchSemaphore(value: 0)
        let server = try RogueServer { request, index in
            arrived.yield(index)
            // The first read is held until the test has cancelled the batch's task.
            if index == 0 { release.wait() }
            return RogueServer.reply(to: request)
        }
        defer { server.stop() }
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: server.port), timeout: .seconds(5))
        let task = Task { await link.read(unit: 1, ranges: [0..<2, 2..<4, 4..<6]) }
        for await _ in arrivals { break }  // the first read is on the wire
        task.cancel()
        release.signal()
        let answers = await task.value
        #expect(answers.count == 2)
        #expect(try answers[0].get().registers == [RogueServer.value(0), RogueServer.value(1)])
        guard case .failure(let error) = answers[1] else {
            Issue.record("the second read should be cancelled, got \(answers[1])")
            return
        }
        #expect(error.kind == .cancelled)
        await link.shutdown()
        #expect(server.requests == 1)
        #expect(link.transactions == 1)
    }

    @Test("an empty batch makes no request")
    func empty() async throws {
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: 1), timeout: .seconds(1))
        #expect(await link.read(unit: 1, ranges: []).isEmpty)
        #expect(link.transactions == 0)
        await link.shutdown()
    }
}
