import Foundation
import Gateway
import Modbus
import Simulation
import SunSpec
import Synchronization
import Testing

/// A device whose holding registers take writes, or refuse them the ways real devices do.
final class WritableDevice: RegisterReader, Sendable {
    enum Behaviour: Sendable {
        case apply
        /// Acknowledges the write and keeps the old value (writes acknowledged but not applied).
        case ignore
        case exception(UInt8)
        case timeout
    }

    private struct State {
        var image: RegisterImage
        var behaviour = Behaviour.apply
        var writes: [(address: Int, registers: [UInt16], function: WriteFunction)] = []
        var down = false
        /// A file read at each write, and what it held then.
        var watched: String?
        var watchedAtWrites: [String] = []
    }

    private let state: Mutex<State>

    init(_ image: RegisterImage) { state = Mutex(State(image: image)) }

    var behaviour: Behaviour {
        get { state.withLock { $0.behaviour } }
        set { state.withLock { $0.behaviour = newValue } }
    }

    /// Every read times out (the device is gone).
    func setDown(_ down: Bool) { state.withLock { $0.down = down } }

    /// The writes that reached the device, in order.
    var writes: [(address: Int, registers: [UInt16], function: WriteFunction)] { state.withLock { $0.writes } }

    func value(at address: Int) -> UInt16? { state.withLock { $0.image.value(at: address) } }

    /// From now on, each write that reaches the device first reads `path` (the audit): what it held
    /// at the moment of each write, in order, is in `watchedAtWrites`.
    func watch(_ path: String) { state.withLock { $0.watched = path } }

    /// What the watched file held when each write reached the device (a file that could not be read is "").
    var watchedAtWrites: [String] { state.withLock { $0.watchedAtWrites } }

    func read(unit: Int, address: Int, count: Int, kind: RegisterKind, timeout: Duration?) async throws(ModbusError) -> [UInt16] {
        let result = state.withLock { s -> [UInt16]? in
            if s.down { return nil }
            return (address..<(address + count)).map { s.image.value(at: $0) ?? 0 }
        }
        guard let result else { throw ModbusError(.timeout, operation: "read", unit: unit, address: address) }
        return result
    }

    func write(unit: Int, address: Int, registers: [UInt16], function: WriteFunction, timeout: Duration?) async throws(ModbusError) {
        let failure = state.withLock { s -> ModbusError.Kind? in
            if let path = s.watched {
                do { s.watchedAtWrites.append(try String(contentsOfFile: path, encoding: .utf8)) } catch {
                    s.watchedAtWrites.append("")
                }
            }
            if s.down { return .timeout }
            switch s.behaviour {
            case .exception(let code): return .exception(code)
            case .timeout: return .timeout
            case .ignore:
                s.writes.append((address, registers, function))
                return nil
            case .apply:
                s.writes.append((address, registers, function))
                s.image.insert(.init(start: address, registers: registers))
                return nil
            }
        }
        if let failure { throw ModbusError(failure, operation: "write registers", unit: unit, address: address) }
    }
}

@Suite("Control: setpoints checked, written between polls, read back, audited, reverted", .serialized)
struct ControlTests {
    static let wall = Date(timeIntervalSince1970: 1_800_000_000)

    /// The allow list of the tests.
    static func allow() throws -> [AllowedPoint] {
        let catalog = ModelCatalog.builtin
        func point(
            _ text: String, min: Int64? = nil, max: Int64? = nil, values: [String]? = nil, revert: SetpointValue? = nil,
            minInterval: Duration? = nil
        ) throws -> AllowedPoint {
            let path = try PointPath(parsing: text)
            let model = try #require(catalog.definition(for: path.model))
            return AllowedPoint(
                path: path, definition: try model.point(at: path), model: model, min: min.map { ExactDecimal($0, exponent: 0) },
                max: max.map { ExactDecimal($0, exponent: 0) }, values: values, revert: revert, minInterval: minInterval, vendor: nil)
        }
        return [
            try point("124.WChaMax", min: 0, max: 50000, revert: .number(ExactDecimal(50000, exponent: 0))),
            try point("124.MinRsvPct", min: 0, max: 100, minInterval: .seconds(1)),
            try point("802.SetOp", values: ["CONNECT", "DISCONNECT"]),
        ]
    }

    struct Setup {
        let gateway: RunningGateway
        let device: WritableDevice
        let controller: Controller
        let recorder: Recorder
        let audit: String
        let clock: ManualClock?

        func set(_ point: String, _ value: SetpointValue, ttl: Duration? = nil, id: String = "t") async -> ControlRecord {
            await controller.handle(
                ControlRequest(id: id, op: .set, device: "bess-1", point: point, value: value, ttl: ttl), client: .socket(uid: 0, pid: 1))
        }

        var auditLines: [String] {
            (try? String(contentsOfFile: audit, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        }
    }

    static func number(_ n: Int64, _ e: Int = 0) -> SetpointValue { .number(ExactDecimal(n, exponent: e)) }

    func start(
        clock: ManualClock? = nil, audit: String? = nil, settle: Duration = .zero, heartbeat: Bool = false, quirks: Quirks = Quirks()
    ) async throws -> Setup {
        let device = WritableDevice(try fixtureImage("battery-inverter.json"))
        var config = GatewayConfig(socketPath: temporarySocketPath())
        let auditPath = audit ?? temporarySocketPath() + ".audit.jsonl"
        config.control = ControlSettings(socketPath: temporarySocketPath(), auditPath: auditPath, maxTTL: .seconds(300))
        var control = DeviceControl(allow: try Self.allow(), export: false, writeFunction: .multiple, settle: settle)
        if heartbeat {
            let path = try PointPath(parsing: "802.CtrlHb")
            control.heartbeat = path
            control.heartbeatDefinition = try ModelCatalog.builtin.definition(for: 802)!.point(at: path)
        }
        config.devices = [
            DeviceConfig(
                name: "bess-1", endpoint: .tcp(host: "sim", port: 502), interval: .milliseconds(200), quirks: quirks, control: control)
        ]
        let clocks = clock.map { Clocks($0, wall: { Self.wall }) } ?? .real
        let gateway = try await RunningGateway.start(config, readers: ["bess-1": device], clocks: clocks)
        let recorder = Recorder()
        gateway.hub.subscribe(recorder)
        #expect(await recorder.line { json($0)["state"] as? String == "online" } != nil)
        return Setup(
            gateway: gateway, device: device, controller: try #require(gateway.app.controller), recorder: recorder, audit: auditPath,
            clock: clock)
    }

    @Test("a set is encoded at the device's scale factor, written once, read back, answered, audited and streamed")
    func applied() async throws {
        let s = try await start()
        let record = await s.set("124.WChaMax", Self.number(25000), id: "c1")
        #expect(record.outcome.result == .applied)
        // 124 at 40277, WChaMax at offset 2, WChaMax_SF 1: 25000 W is 2500.
        #expect(record.outcome.write == WriteRecord(address: 40279, registers: [2500], function: .multiple))
        #expect(record.outcome.readback == Self.number(25000))
        #expect(record.outcome.before == Self.number(50000))
        #expect(s.device.writes.count == 1)
        #expect(s.device.value(at: 40279) == 2500)
        let answer = json(String(decoding: record.answerLine(), as: UTF8.self))
        #expect(answer["type"] as? String == "result")
        #expect(answer["id"] as? String == "c1")
        #expect(answer["result"] as? String == "applied")
        #expect((answer["write"] as? [String: Any])?["addr"] as? Int == 40279)
        let streamed = try #require(await s.recorder.line { $0.contains("\"type\":\"control\"") })
        #expect(json(streamed)["result"] as? String == "applied")
        #expect(json(streamed)["before"] as? Int == 50000)
        // The intent line, then the outcome line.
        #expect(s.auditLines.map { json($0)["result"] as? String } == ["pending", "applied"])
        #expect(s.auditLines.allSatisfy { json($0)["client"] as? [String: Int] == ["uid": 0, "pid": 1] })
        // The next poll publishes the new value.
        #expect(await s.recorder.line { $0.contains("\"model\":124") && $0.contains("\"WChaMax\":25000") } != nil)
        await s.gateway.stop()
    }

    @Test("refusals before the device: nothing is written, each is audited")
    func refusals() async throws {
        let s = try await start()
        let c = s.controller
        func ask(_ r: ControlRequest) async -> ControlResult { await c.handle(r, client: .socket(uid: 0, pid: 1)).outcome.result }
        #expect(await s.set("124.WChaMax", Self.number(25001)).outcome.result == .notRepresentable)
        #expect(await s.set("124.WChaMax", Self.number(60000)).outcome.result == .outOfRange)
        #expect(await s.set("124.WChaMax", Self.number(-10)).outcome.result == .outOfRange)
        #expect(await s.set("124.WChaGra", Self.number(5)).outcome.result == .notAllowed)
        #expect(await s.set("124.NoSuchPoint", Self.number(5)).outcome.result == .unknownPoint)
        #expect(await s.set("802.SetOp", .symbol("STANDBY")).outcome.result == .outOfRange)
        #expect(await ask(ControlRequest(op: .set, device: "nope", point: "124.WChaMax", value: Self.number(1))) == .unknownDevice)
        // A ttl past max_ttl, and a ttl on a point with no revert value.
        #expect(await s.set("124.WChaMax", Self.number(20000), ttl: .seconds(301)).outcome.result == .badRequest)
        #expect(await s.set("124.MinRsvPct", Self.number(20), ttl: .seconds(30)).outcome.result == .badRequest)
        #expect(s.device.writes.isEmpty)
        #expect(s.auditLines.count == 9)
        await s.gateway.stop()
    }

    @Test("what the device does: an exception, a write acknowledged but not applied, no answer, offline")
    func deviceOutcomes() async throws {
        let s = try await start()
        s.device.behaviour = .exception(4)
        let refused = await s.set("124.WChaMax", Self.number(20000))
        #expect(refused.outcome.result == .deviceException)
        #expect(refused.outcome.code == 4)
        s.device.behaviour = .ignore
        let ignored = await s.set("124.WChaMax", Self.number(20000))
        #expect(ignored.outcome.result == .notApplied)
        #expect(ignored.outcome.readback == Self.number(50000))
        s.device.behaviour = .timeout
        // No answer to the write, but the read-back finds the old value: not applied.
        #expect(await s.set("124.WChaMax", Self.number(30000)).outcome.result == .notApplied)
        s.device.behaviour = .apply
        s.device.setDown(true)
        #expect(await s.recorder.line { json($0)["state"] as? String == "offline" } != nil)
        #expect(await s.set("124.WChaMax", Self.number(30000)).outcome.result == .offline)
        #expect(s.device.writes.count == 1)  // the ignored one only
        await s.gateway.stop()
    }

    @Test("min_interval: a second set sooner is rate_limited")
    func rateLimited() async throws {
        let clock = ManualClock()
        let s = try await start(clock: clock)
        #expect(await s.set("124.MinRsvPct", Self.number(20)).outcome.result == .applied)
        #expect(await s.set("124.MinRsvPct", Self.number(30)).outcome.result == .rateLimited)
        clock.advance(by: .seconds(1))
        #expect(await s.set("124.MinRsvPct", Self.number(30)).outcome.result == .applied)
        await s.gateway.stop()
    }

    @Test("a ttl that runs out writes the revert value, audited; a set before it ends the ttl")
    func ttlReverts() async throws {
        let clock = ManualClock()
        let s = try await start(clock: clock)
        #expect(await s.set("124.WChaMax", Self.number(20000), ttl: .seconds(30)).outcome.result == .applied)
        #expect(s.controller.liveTTLs == 1)
        await clock.sleepers(atLeast: 2)  // the runner's and the ttl's
        clock.advance(by: .seconds(30))
        let revert = try #require(await s.recorder.line { $0.contains("\"op\":\"revert\"") })
        #expect(json(revert)["result"] as? String == "applied")
        #expect(s.device.value(at: 40279) == 5000)
        #expect(s.controller.liveTTLs == 0)
        await s.gateway.stop()
    }

    @Test("at shutdown, points with a live ttl are reverted before the gateway exits")
    func shutdownReverts() async throws {
        let s = try await start()
        #expect(await s.set("124.WChaMax", Self.number(20000), ttl: .seconds(300)).outcome.result == .applied)
        #expect(s.device.value(at: 40279) == 2000)
        await s.gateway.stop()
        #expect(s.device.value(at: 40279) == 5000)
        // The revert's intent line, then its outcome.
        let last = s.auditLines.suffix(2).map(json)
        #expect(last.map { $0["op"] as? String } == ["revert", "revert"])
        #expect(last.map { $0["result"] as? String } == ["pending", "applied"])
        #expect(last.map { $0["client"] as? [String: String] } == [["gateway": "shutdown"], ["gateway": "shutdown"]])
    }

    @Test("an audit that cannot be written refuses the request before anything goes to the device")
    func auditUnwritable() async throws {
        let s = try await start(audit: "/dev/null/audit.jsonl")
        #expect(await s.set("124.WChaMax", Self.number(20000)).outcome.result == .precondition)
        #expect(s.device.writes.isEmpty)
        await s.gateway.stop()
    }

    @Test("an audit that fails between the checks and the write (/dev/full): the intent line fails, nothing goes to the device")
    func auditLineNotWritten() async throws {
        let link = temporarySocketPath() + ".full-audit.jsonl"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/dev/full")
        defer { try? FileManager.default.removeItem(atPath: link) }
        let s = try await start(audit: link)
        // The file opens, so every check passes; the intent line fails (ENOSPC) before the write.
        let first = await s.set("124.WChaMax", Self.number(20000))
        #expect(first.outcome.result == .precondition)
        #expect(first.outcome.write == nil)
        #expect(s.device.writes.isEmpty)
        // And the next is refused before it reaches the runner.
        let refused = await s.set("124.WChaMax", Self.number(21000))
        #expect(refused.outcome.result == .precondition)
        #expect(s.device.writes.isEmpty)
        await s.gateway.stop()
    }

    @Test("the heartbeat is written every second while the device is online, counting up from the device's value")
    func heartbeat() async throws {
        let clock = ManualClock()
        let s = try await start(clock: clock, heartbeat: true)
        // 802 at 40312: CtrlHb is at offset 19 (the fixture has 4410).
        let address = 40312 + 19
        #expect(s.device.value(at: address) == 4410)
        for beat in 1...3 {
            await clock.sleepers(atLeast: 2)
            clock.advance(by: .seconds(1))
            while s.device.writes.count < beat { await Task.yield() }
        }
        #expect(s.device.writes.map(\.registers) == [[4411], [4412], [4413]])
        #expect(s.device.writes.allSatisfy { $0.address == address })
        // The run of beats is recorded once, before its first beat (intent and outcome); the others are not.
        #expect(s.auditLines.map { json($0)["result"] as? String } == ["pending", "applied"])
        #expect(s.auditLines.allSatisfy { json($0)["op"] as? String == "heartbeat" })
        #expect(json(s.auditLines.first ?? "")["value"] as? Int == 4411)
        await s.gateway.stop()
    }

    @Test("capabilities read the device's registers with its own catalog: a scale factor its quirks fix")
    func capabilitiesWithQuirks() async throws {
        var quirks = Quirks()
        quirks.scaleFactors["124.WChaMax_SF"] = 2
        let s = try await start(quirks: quirks)
        let answer = await s.controller.handle(
            ControlRequest(id: "k", op: .capabilities, device: "bess-1"), client: .socket(uid: 0, pid: 1))
        #expect(answer.outcome.result == .ok)
        let point = answer.capabilities?.first { $0.path.description == "124.WChaMax" }
        // The fixture's raw 5000, at the quirk's scale factor 2 (its own WChaMax_SF is 1).
        #expect(point?.scaleFactor == 2)
        #expect(point?.last == Self.number(5000, 2))
        await s.gateway.stop()
    }

    @Test("an over-long request line is refused with the controller's wall time, and the connection closed")
    func overLongLine() async throws {
        let s = try await start(clock: ManualClock())
        let path = try #require(s.gateway.app.config.control?.socketPath)
        let client = try #require(StreamClient(path: path))
        client.send(String(repeating: "x", count: ControlRequest.maxLineBytes + 1))
        let answer = json(try #require(await client.line()))
        #expect(answer["result"] as? String == "bad_request")
        #expect(answer["ts"] as? String == "2027-01-15T08:00:00.000Z")
        let audited = try #require(s.auditLines.last)
        #expect(json(audited)["ts"] as? String == "2027-01-15T08:00:00.000Z")
        await s.gateway.stop()
    }

    @Test("the control socket: one answer a line, in order, the client's uid and pid audited")
    func socket() async throws {
        let s = try await start()
        let path = try #require(s.gateway.app.config.control?.socketPath)
        let client = try #require(StreamClient(path: path))
        client.send("{\"id\":\"a\",\"op\":\"set\",\"device\":\"bess-1\",\"point\":\"124.WChaMax\",\"value\":25000}\n")
        client.send("not json\n{\"id\":\"c\",\"op\":\"get\",\"device\":\"bess-1\",\"point\":\"124.WChaMax\"}\n")
        let a = json(try #require(await client.line()))
        #expect(a["id"] as? String == "a")
        #expect(a["result"] as? String == "applied")
        let b = json(try #require(await client.line()))
        #expect(b["result"] as? String == "bad_request")
        let c = json(try #require(await client.line()))
        #expect(c["id"] as? String == "c")
        #expect(c["result"] as? String == "ok")
        #expect(c["readback"] as? Int == 25000)
        let audited = json(s.auditLines[0])
        #expect(audited["client"] as? [String: Int] == ["uid": Int(getuid()), "pid": Int(getpid())])
        await s.gateway.stop()
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
