import Foundation
import Gateway
import Testing

/// The audit's two lines of a write: the intent line on disk before the write reaches the device,
/// the outcome line after it (docs/control.md, "The audit").
@Suite("Control audit: a write's intent line before it goes out, its outcome after", .serialized)
struct ControlAuditTests {
    @Test("a set's intent line is on disk before the write reaches the device; its outcome line follows; one stream record")
    func intentBeforeWrite() async throws {
        let s = try await ControlTests().start()
        s.device.watch(s.audit)
        let record = await s.set("124.WChaMax", ControlTests.number(25000), ttl: .seconds(30), id: "c7")
        #expect(record.outcome.result == .applied)
        // What the audit held when the write reached the device: the intent line, complete, and nothing else.
        let atWrite = s.device.watchedAtWrites
        #expect(atWrite.count == 1)
        let seen = atWrite.first.map { $0.split(separator: "\n").map(String.init) } ?? []
        #expect(seen.count == 1)
        #expect(atWrite.first?.hasSuffix("\n") == true)
        let intent = json(seen.first ?? "")
        #expect(intent["result"] as? String == "pending")
        #expect(intent["id"] as? String == "c7")
        #expect(intent["op"] as? String == "set")
        #expect(intent["point"] as? String == "124.WChaMax")
        #expect(intent["value"] as? Int == 25000)
        #expect(intent["ttl"] as? String == "30s")
        #expect(intent["before"] as? Int == 50000)
        #expect(intent["readback"] is NSNull)
        let planned = intent["write"] as? [String: Any]
        #expect(planned?["addr"] as? Int == 40279)
        #expect(planned?["registers"] as? [Int] == [2500])
        #expect(planned?["function"] as? Int == 16)
        // Afterwards: the intent line, then the outcome line.
        let lines = s.auditLines
        #expect(lines.count == 2)
        #expect(lines.first == seen.first)
        #expect(lines.last.map { json($0)["result"] as? String } == "applied")
        #expect(lines.last.map { json($0)["id"] as? String } == "c7")
        // The stream has the outcome only.
        _ = await s.set("124.WChaMax", ControlTests.number(26000), id: "c8")
        #expect(await s.recorder.line { $0.contains("\"id\":\"c8\"") } != nil)
        let streamed = s.recorder.lines.filter { $0.contains("\"type\":\"control\"") }
        #expect(streamed.map { json($0)["result"] as? String } == ["applied", "applied"])
        await s.gateway.stop()
    }

    @Test("a release's intent line and outcome line both carry the revert value it writes")
    func releaseIntent() async throws {
        let s = try await ControlTests().start()
        let answer = await s.controller.handle(
            ControlRequest(id: "r1", op: .release, device: "bess-1", point: "124.WChaMax"), client: .socket(uid: 0, pid: 1))
        #expect(answer.outcome.result == .applied)
        #expect(answer.value == ControlTests.number(50000))
        let lines = s.auditLines.map(json)
        #expect(lines.map { $0["result"] as? String } == ["pending", "applied"])
        #expect(lines.map { $0["value"] as? Int } == [50000, 50000])
        #expect(lines.map { $0["op"] as? String } == ["release", "release"])
        await s.gateway.stop()
    }

    @Test("a ttl revert writes its intent line before the write")
    func revertIntents() async throws {
        let clock = ManualClock()
        let s = try await ControlTests().start(clock: clock)
        #expect(await s.set("124.WChaMax", ControlTests.number(20000), ttl: .seconds(30)).outcome.result == .applied)
        #expect(await s.set("124.MinRsvPct", ControlTests.number(20)).outcome.result == .applied)
        s.device.watch(s.audit)
        await clock.sleepers(atLeast: 2)
        clock.advance(by: .seconds(30))
        let revert = try #require(await s.recorder.line { $0.contains("\"op\":\"revert\"") })
        #expect(json(revert)["result"] as? String == "applied")
        let atRevert = s.device.watchedAtWrites.first.map { $0.split(separator: "\n").map { json(String($0)) } } ?? []
        #expect(atRevert.last?["result"] as? String == "pending")
        #expect(atRevert.last?["op"] as? String == "revert")
        #expect(atRevert.last?["client"] as? [String: String] == ["gateway": "ttl"])
        await s.gateway.stop()
        let ops = s.auditLines.map { "\(json($0)["op"] as? String ?? "-") \(json($0)["result"] as? String ?? "-")" }
        #expect(ops == ["set pending", "set applied", "set pending", "set applied", "revert pending", "revert applied"])
    }
}
