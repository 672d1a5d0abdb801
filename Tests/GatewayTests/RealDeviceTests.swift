import Captures
import Foundation
import Modbus
import Simulation
import SunSpec
import Synchronization
import Testing

@testable import Gateway

/// A reader that misbehaves on command: busy for the next reads, refusing reads larger than a
/// limit (exception 3) for a while, refusing given registers (exception 2).
final class FaultyReader: RegisterReader, Sendable {
    struct Faults {
        var busyReads = 0
        var refuseAbove: Int?
        var refused: Set<Int> = []
    }
    let inner: any RegisterReader
    let faults = Mutex(Faults())
    private let log = Mutex<[(count: Int, error: ModbusError?)]>([])

    init(_ inner: any RegisterReader) { self.inner = inner }

    /// Every read so far: its size and its error.
    var reads: [(count: Int, error: ModbusError?)] { log.withLock { $0 } }

    func read(unit: Int, address: Int, count: Int, kind: RegisterKind, timeout: Duration?) async throws(ModbusError) -> [UInt16] {
        let code: UInt8? = faults.withLock { f in
            if f.busyReads > 0 {
                f.busyReads -= 1
                return 6
            }
            if let limit = f.refuseAbove, count > limit { return 3 }
            if (address..<(address + count)).contains(where: f.refused.contains) { return 2 }
            return nil
        }
        if let code {
            let error = ModbusError(.exception(code), operation: "read", unit: unit, address: address)
            log.withLock { $0.append((count, error)) }
            throw error
        }
        do {
            let registers = try await inner.read(unit: unit, address: address, count: count, kind: kind, timeout: timeout)
            log.withLock { $0.append((count, nil)) }
            return registers
        } catch {
            log.withLock { $0.append((count, error)) }
            throw error
        }
    }
}

/// The `values` of each model instance of an offline decode, by address.
func offlineValues(_ image: RegisterImage) throws -> [Int: NSDictionary] {
    let decoded = try DeviceDecoder.decode(image, base: 40000)
    var out: [Int: NSDictionary] = [:]
    for instance in decoded.models {
        var buffer = JSONBuffer(capacity: 4096)
        ReadingRecord.append(instance, device: "d", timestamp: nil, to: &buffer)
        out[instance.address] = json(String(decoding: buffer.bytes, as: UTF8.self))["values"] as? NSDictionary
    }
    return out
}

/// The dynamic models of a map (what each poll publishes), by address.
func dynamicModels(_ image: RegisterImage) throws -> Set<Int> {
    let decoded = try DeviceDecoder.decode(image, base: 40000)
    return Set(decoded.models.filter { $0.model.definition.map { !Session.isStatic($0) } ?? true }.map(\.address))
}

/// A register image with seeded random holes: single registers and runs of 3-20, never in the SunS
/// marker nor in a model's ID and L registers.
func punchHoles(_ image: RegisterImage, seed: UInt64, count: Int) throws -> RegisterImage {
    let decoded = try DeviceDecoder.decode(image, base: 40000)
    let headers = Set([40000, 40001] + decoded.models.flatMap { [$0.address, $0.address + 1] })
    var state = seed
    func next(_ n: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(n))
    }
    var holed = image
    let span = image.blocks.first!.start..<image.blocks.last!.end
    for i in 0..<count {
        let start = span.lowerBound + next(span.count)
        let length = i % 2 == 0 ? 1 : 3 + next(18)
        let range = start..<min(span.upperBound, start + length)
        if range.contains(where: headers.contains) { continue }
        holed.remove(range)
    }
    return holed
}

@Suite("Real devices as they behave", .serialized)
struct RealDeviceTests {
    /// A gateway polling device "d" through `reader`, and a subscriber of its hub that has seen it online.
    func startOnline(_ reader: any RegisterReader, interval: Duration) async throws -> (RunningGateway, Recorder) {
        let config = DeviceConfig(name: "d", endpoint: .tcp(host: "sim", port: 502), interval: interval)
        let gateway = try await RunningGateway.start(devices: [config], readers: ["d": reader])
        let client = Recorder()
        gateway.hub.subscribe(client)
        _ = try #require(await client.line { json($0)["state"] as? String == "online" })
        return (gateway, client)
    }

    /// Runs a gateway over `reader` until `polls` readings of every dynamic model came after the
    /// first online status; returns the records seen after it.
    func poll(
        _ reader: any RegisterReader, polls: Int, dynamic: Set<Int>, interval: Duration = .milliseconds(30)
    ) async throws -> [[String: Any]] {
        let (gateway, client) = try await startOnline(reader, interval: interval)
        defer { Task { await gateway.stop() } }
        var records: [[String: Any]] = []
        var counts: [Int: Int] = [:]
        while dynamic.contains(where: { counts[$0, default: 0] < polls }) {
            let line = try #require(await client.line(timeout: .seconds(5)), "readings stopped: \(counts)")
            let record = json(line)
            records.append(record)
            if record["type"] as? String == "reading", let addr = record["addr"] as? Int { counts[addr, default: 0] += 1 }
        }
        await gateway.stop()
        return records
    }

    @Test("the SMA Sunny Boy with 110 refused registers: online throughout, every model every poll, no refused request")
    func sma() async throws {
        let image = try fixtureImage("real/sma-sunny-boy-3.6-2025-04-10.json")
        let reader = FaultyReader(InProcessReader(CaptureDevices([1: image])))
        let dynamic = try dynamicModels(image)
        #expect(dynamic.count >= 10)
        let discovery = try await Discovery(reader: reader, unit: 1).run()
        #expect(discovery.holes.count == 110)
        let records = try await poll(reader, polls: 10, dynamic: dynamic)
        #expect(!records.contains { $0["type"] as? String == "status" })
        let expected = try offlineValues(image)
        for record in records where record["type"] as? String == "reading" {
            let addr = try #require(record["addr"] as? Int)
            #expect(record["values"] as? NSDictionary == expected[addr], "model at \(addr)")
        }
        // Once online, not one refused request: count the reads after the last refusal of discovery.
        let plan = PollPlan(
            spans: discovery.models.filter { dynamic.contains($0.address) }.map(\.span), maxRegisters: 125, holes: discovery.holes)
        #expect(!plan.touches(discovery.holes))
        let tail = Array(reader.reads.suffix(plan.requests.count * 9))
        #expect(tail.allSatisfy { $0.error == nil })
    }

    @Test("maps with random holes: polled around them, values as the offline decode", arguments: [1, 2, 3] as [UInt64])
    func randomHoles(seed: UInt64) async throws {
        let image = try punchHoles(try fixtureImage("battery-inverter.json"), seed: seed, count: 24)
        let reader = FaultyReader(InProcessReader(CaptureDevices([1: image])))
        let dynamic = try dynamicModels(image)
        let records = try await poll(reader, polls: 5, dynamic: dynamic)
        #expect(!records.contains { $0["type"] as? String == "status" })
        let expected = try offlineValues(image)
        for record in records where record["type"] as? String == "reading" {
            let addr = try #require(record["addr"] as? Int)
            #expect(record["values"] as? NSDictionary == expected[addr], "seed \(seed), model at \(addr)")
        }
        // The last reads (whole polls) were never refused.
        #expect(reader.reads.suffix(20).allSatisfy { $0.error == nil })
    }

    @Test("registers refused while polling become holes: their points null, the device stays online")
    func holesWhilePolling() async throws {
        let devices = CaptureDevices([1: try fixtureImage("battery-inverter.json")])
        let reader = FaultyReader(InProcessReader(devices))
        let (gateway, client) = try await startOnline(reader, interval: .milliseconds(30))
        // 802's SoC (offset 11) and SoH (offset 13) are refused from now on.
        reader.faults.withLock { $0.refused = [40312 + 11, 40312 + 13] }
        let reading = try #require(
            await client.line {
                guard $0.contains("\"model\":802") else { return false }
                return (json($0)["values"] as? [String: Any])?["SoC"] is NSNull
            })
        #expect((json(reading)["values"] as? [String: Any])?["SoH"] is NSNull)
        #expect((json(reading)["values"] as? [String: Any])?["V"] as? Double != nil)
        let n = reader.reads.count
        // Ten more polls of 802: never a refused request again, never offline.
        for _ in 0..<10 { #expect(await client.line { $0.contains("\"model\":802") } != nil) }
        #expect(reader.reads[n...].allSatisfy { $0.error == nil })
        #expect(await client.line(where: { $0.contains("\"type\":\"status\"") }, timeout: .milliseconds(100)) == nil)
        await gateway.stop()
    }

    @Test("exception 3 under load lowers the read size for a while; larger reads are tried again and kept")
    func sizeComesBack() async throws {
        let reader = FaultyReader(InProcessReader(CaptureDevices([1: try fixtureImage("battery-inverter.json")])))
        let (gateway, client) = try await startOnline(reader, interval: .milliseconds(20))
        reader.faults.withLock { $0.refuseAbove = 30 }
        for _ in 0..<3 { #expect(await client.line { $0.contains("\"model\":804") } != nil) }
        reader.faults.withLock { $0.refuseAbove = nil }
        let n = reader.reads.count
        // Within 10 good polls per doubling (30 -> 60 -> 120 -> 125 takes 3), reads of 125 again.
        for _ in 0..<45 { #expect(await client.line { $0.contains("\"model\":804") && $0.contains("\"index\":2") } != nil) }
        #expect(reader.reads[n...].suffix(8).contains { $0.count == 125 })
        #expect(await client.line(where: { json($0)["state"] as? String == "offline" }, timeout: .milliseconds(100)) == nil)
        await gateway.stop()
    }

    @Test("busy (exception 6) during discovery is asked again: the whole map is found, not model 1 alone")
    func busyDiscovery() async throws {
        let reader = FaultyReader(InProcessReader(CaptureDevices([1: try fixtureImage("battery-inverter.json")])))
        reader.faults.withLock { $0.busyReads = 4 }
        let quick = Discovery(reader: reader, unit: 1, busyRetries: Array(repeating: .milliseconds(1), count: 6))
        let map = try await quick.run()
        #expect(map.models.map(\.id) == [1, 103, 701, 124, 713, 802, 803, 804, 804, 804])
        // Mid-walk too.
        let late = FaultyReader(InProcessReader(CaptureDevices([1: try fixtureImage("battery-inverter.json")])))
        let walk = Discovery(reader: late, unit: 1, busyRetries: Array(repeating: .milliseconds(1), count: 6))
        _ = try await walk.run()
        late.faults.withLock { $0.busyReads = 0 }
        #expect(try await walk.run().models.count == 10)
    }

    @Test("a device with nothing dynamic is still checked every interval: it goes offline and comes back")
    func staticOnly() async throws {
        let full = try fixtureImage("battery-inverter.json")
        // SunS, model 1 (L 66), end marker.
        var only1 = RegisterImage()
        only1.insert(.init(start: 40000, registers: full.window(start: 40000, count: 70).values + [0xFFFF, 0]))
        let devices = CaptureDevices([1: only1])
        let reader = FaultyReader(InProcessReader(devices))
        let clock = ManualClock()
        let config = DeviceConfig(name: "d", endpoint: .tcp(host: "sim", port: 502), interval: .milliseconds(50))
        let gateway = try await RunningGateway.start(devices: [config], readers: ["d": reader], clocks: Clocks(clock))
        let client = Recorder()
        gateway.hub.subscribe(client)
        #expect(await client.line { json($0)["state"] as? String == "online" } != nil)
        // Each interval reads the model headers (one request), and nothing else.
        for _ in 0..<3 {
            await clock.sleepers(atLeast: 1)
            let n = reader.reads.count
            clock.advance(by: .milliseconds(50))
            await clock.sleepers(atLeast: 1)
            #expect(reader.reads.count - n == 1)
        }
        devices.update(unit: 1) { $0 = RegisterImage() }
        clock.advance(by: .milliseconds(50))
        #expect(await client.line { json($0)["state"] as? String == "offline" } != nil)
        devices.update(unit: 1) { $0 = only1 }
        await clock.sleepers(atLeast: 1)
        clock.advance(by: .seconds(1))
        #expect(await client.line { json($0)["state"] as? String == "online" } != nil)
        await gateway.stop()
    }

    @Test("after a firmware update changes the map, the new plan is as good as the first one")
    func changedMapPlan() async throws {
        let battery = try fixtureImage("battery-inverter.json")
        let legacy = try fixtureImage("legacy-storage.json")
        let moved = RegisterImage(blocks: legacy.blocks.map { .init(start: $0.start - 10000, registers: $0.registers) })
        let devices = CaptureDevices([1: battery])
        let reader = FaultyReader(InProcessReader(devices))
        let (gateway, client) = try await startOnline(reader, interval: .milliseconds(30))
        devices.update(unit: 1) { $0 = moved }
        let online = try #require(await client.line { json($0)["state"] as? String == "online" })
        #expect(json(online)["models"] as? [Int] == [1, 103, 120, 121, 122, 123, 124])
        let n = reader.reads.count
        for _ in 0..<5 { #expect(await client.line { $0.contains("\"model\":124") } != nil) }
        let polls = reader.reads[n...]
        #expect(polls.allSatisfy { $0.error == nil })
        #expect(polls.map(\.count).max() ?? 0 > 60)  // not held at small reads
        await gateway.stop()
    }
}
