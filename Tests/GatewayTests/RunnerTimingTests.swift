import Captures
import Foundation
import Modbus
import Simulation
import SunSpec
import Synchronization
import Testing

@testable import Gateway

/// A reader whose device can be switched off (every read then times out).
final class SwitchedReader: RegisterReader, Sendable {
    let inner: any RegisterReader
    let down = Atomic<Bool>(false)

    init(_ inner: any RegisterReader) { self.inner = inner }

    func read(unit: Int, address: Int, count: Int, kind: RegisterKind, timeout: Duration?) async throws(ModbusError) -> [UInt16] {
        if down.load(ordering: .relaxed) { throw ModbusError(.timeout, operation: "read", unit: unit, address: address) }
        return try await inner.read(unit: unit, address: address, count: count, kind: kind, timeout: timeout)
    }
}

@Suite("Device runners on a driven clock: backoff, intervals, retries, commands", .serialized)
struct RunnerTimingTests {
    static let wall = Date(timeIntervalSince1970: 1_800_000_000)

    /// A gateway polling device "d" through `reader` on `clock`, and a subscriber of its hub.
    func start(
        _ reader: any RegisterReader, clock: ManualClock, interval: Duration = .seconds(1)
    ) async throws -> (RunningGateway, Recorder) {
        let config = DeviceConfig(name: "d", endpoint: .tcp(host: "sim", port: 502), interval: interval)
        let gateway = try await RunningGateway.start(
            devices: [config], readers: ["d": reader], clocks: Clocks(clock, wall: { Self.wall }))
        let client = Recorder()
        gateway.hub.subscribe(client)
        return (gateway, client)
    }

    func state(_ line: String) -> String? { json(line)["state"] as? String }

    @Test("a failing device is retried after 1 s, 2 s, 4 s; once back, it is polled every interval")
    func backoff() async throws {
        let reader = SwitchedReader(InProcessReader(CaptureDevices([1: try fixtureImage("battery-inverter.json")])))
        reader.down.store(true, ordering: .relaxed)
        let clock = ManualClock()
        let (gateway, client) = try await start(reader, clock: clock)
        #expect(await client.line { self.state($0) == "offline" } != nil)
        for wait in [1, 2, 4] {
            await clock.sleepers(atLeast: 1)
            #expect(clock.deadlines == [.seconds(wait)])
            // Just before the deadline nothing happens: the runner is still asleep, with the rest to go.
            clock.advance(by: .seconds(wait) - .milliseconds(1))
            #expect(clock.deadlines == [.milliseconds(1)])
            if wait == 4 { reader.down.store(false, ordering: .relaxed) }
            clock.advance(by: .milliseconds(1))
            #expect(await client.line { self.state($0) == "discovering" } != nil)
            if wait < 4 { #expect(await client.line { self.state($0) == "offline" } != nil) }
        }
        let online = try #require(await client.line { self.state($0) == "online" })
        #expect(json(online)["ts"] as? String == Timestamp.format(Self.wall))
        // Online: the next poll is one interval away.
        await clock.sleepers(atLeast: 1)
        #expect(clock.deadlines == [.seconds(1)])
        clock.advance(by: .seconds(1))
        let reading = try #require(await client.line { $0.contains("\"type\":\"reading\"") && $0.contains("\"model\":802") })
        #expect(json(reading)["ts"] as? String == Timestamp.format(Self.wall))
        await gateway.stop()
    }

    @Test("a poll that comes late skips the ticks it missed instead of catching up")
    func missedTicks() async throws {
        let reader = InProcessReader(CaptureDevices([1: try fixtureImage("battery-inverter.json")]))
        let clock = ManualClock()
        let (gateway, client) = try await start(reader, clock: clock)
        #expect(await client.line { self.state($0) == "online" } != nil)
        await clock.sleepers(atLeast: 1)
        clock.advance(by: .seconds(5))
        #expect(await client.line { $0.contains("\"model\":802") && $0.contains("\"type\":\"reading\"") } != nil)
        await clock.sleepers(atLeast: 1)
        #expect(clock.deadlines == [.seconds(1)])
        await gateway.stop()
    }

    @Test("commands are served between polls: poll now, discover again")
    func commands() async throws {
        let reader = InProcessReader(CaptureDevices([1: try fixtureImage("battery-inverter.json")]))
        let clock = ManualClock()
        let (gateway, client) = try await start(reader, clock: clock, interval: .seconds(3600))
        #expect(await client.line { self.state($0) == "online" } != nil)
        let inbox = try #require(gateway.app.engine.inboxes["d"])
        await clock.sleepers(atLeast: 1)
        inbox.send(.pollNow)
        #expect(await client.line { $0.contains("\"model\":802") && $0.contains("\"type\":\"reading\"") } != nil)
        // The extra poll leaves the schedule as it was; the clock never moved.
        await clock.sleepers(atLeast: 1)
        #expect(clock.deadlines == [.seconds(3600)])
        inbox.send(.rediscover(reason: "test"))
        #expect(await client.line { self.state($0) == "discovering" } != nil)
        #expect(await client.line { self.state($0) == "online" } != nil)
        await gateway.stop()
    }

    @Test("a busy device is asked again after 0.1, 0.2 and 0.4 s of the clock during discovery")
    func busyDiscovery() async throws {
        let reader = FaultyReader(InProcessReader(CaptureDevices([1: try fixtureImage("battery-inverter.json")])))
        reader.faults.withLock { $0.busyReads = 3 }
        let clock = ManualClock()
        let (gateway, client) = try await start(reader, clock: clock)
        for wait in [100, 200, 400] {
            await clock.sleepers(atLeast: 1)
            #expect(clock.deadlines == [.milliseconds(wait)])
            clock.advance(by: .milliseconds(wait))
        }
        #expect(await client.line { self.state($0) == "online" } != nil)
        #expect(!client.lines.contains { self.state($0) == "offline" })
        await gateway.stop()
    }
}
