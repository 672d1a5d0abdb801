import Foundation
import Gateway
import Logging
import Modbus
import Profiles
import ServiceLifecycle
import Simulation
import SunSpec
import Testing

/// A vendor f32 register mapped onto 701 `TotWhInj` (a uint64 with `TotWh_SF`), a u32 onto `TotWhAbs`
/// beside it (the same scale factor), an s16 onto `W`.
private let energyProfile = """
    profile: f32-energy
    vendor: Test
    product: f32 energy counter
    source: this test
    defaults: {unit: 1, function: holding, word_order: high_first}
    identity: {Mn: Test, Md: F32}
    models:
      701:
        ACType: 0
        TotWhInj: {address: 0, type: f32, precision: 0}
        TotWhAbs: {address: 2, type: u32}
        W: {address: 4, type: s16}
    """

/// One hostile reading of the f32 register, and what the gateway publishes for it.
struct HostileFloat: Sendable, CustomTestStringConvertible {
    let value: Float
    /// `TotWhInj` as the reading prints it (nil: null).
    let published: String?
    /// The `errors` of model 701 (empty: none).
    let errors: [String]
    /// `TotWhAbs` beside it (3,911,241 Wh from the vendor), at the scale factor both share.
    var absorbed = 3_911_241
    var testDescription: String { "\(value)" }
}

@Suite("Bridging: a vendor value no SunSpec point can hold, polled live", .serialized)
struct ProfileOverflowLiveTests {
    static let cases: [HostileFloat] = [
        // Past 2^63 (the trap the issue saw): TotWh_SF 1 lets the uint64 hold it, so it is published, to
        // 10 Wh like TotWhAbs, which shares the scale factor.
        HostileFloat(value: 1e19, published: "9999999980506447360", errors: [], absorbed: 3_911_240),
        // Past what TotWh_SF 10 lets a uint64 hold: null with a note; TotWhAbs keeps its precision.
        HostileFloat(value: 3e38, published: nil, errors: ["TotWhInj: 3.0000000054977558e+38 does not fit uint64"]),
        HostileFloat(value: -5, published: nil, errors: ["TotWhInj: -5.0 does not fit uint64"]),
        HostileFloat(value: .infinity, published: nil, errors: ["TotWhInj: inf does not fit uint64"]),
        HostileFloat(value: -.infinity, published: nil, errors: ["TotWhInj: -inf does not fit uint64"]),
        // NaN is a float's not-implemented value: null, and nothing to say.
        HostileFloat(value: .nan, published: nil, errors: []),
    ]

    static func registers(_ injected: Float, absorbed: UInt32 = 3_911_241, power: Int16 = -1200) -> [UInt16] {
        let bits = injected.bitPattern
        return [UInt16(bits >> 16), UInt16(bits & 0xFFFF), UInt16(absorbed >> 16), UInt16(absorbed & 0xFFFF), UInt16(bitPattern: power)]
    }

    /// The next reading of model 701 whose text has `TotWhInj` as `text`.
    static func reading(_ recorder: Recorder, totWhInj text: String) async throws -> [String: Any] {
        let line = await recorder.line { line in
            line.contains("\"type\":\"reading\"") && line.contains("\"model\":701") && line.contains("\"TotWhInj\":\(text),")
        }
        let last = recorder.lines.last { $0.contains("\"model\":701") } ?? ""
        return json(try #require(line, "no reading with TotWhInj \(text); the last: \(last)"))
    }

    @Test("one hostile poll: published with the point null (or held) and a note; online; exported; the next poll decodes", arguments: cases)
    func hostile(_ c: HostileFloat) async throws {
        let profile = try Profile.parse(energyProfile, file: "f32-energy.yaml")
        let device = CaptureDevices([1: RegisterImage(blocks: [.init(start: 0, registers: Self.registers(12_345))])])
        let config = DeviceConfig(
            name: "meter", endpoint: .tcp(host: "sim", port: 1), interval: .milliseconds(20), profile: profile, exportUnit: 1)
        let (gateway, store) = try await RunningGateway.startExporting([config], readers: ["meter": InProcessReader(device)])
        let recorder = Recorder()
        #expect(gateway.hub.subscribe(recorder) == .subscribed)

        _ = try await Self.reading(recorder, totWhInj: "12345")

        device.update(unit: 1) { $0.insert(.init(start: 0, registers: Self.registers(c.value))) }
        let hostile = try await Self.reading(recorder, totWhInj: c.published ?? "null")
        #expect((hostile["errors"] as? [String] ?? []) == c.errors)
        let values = try #require(hostile["values"] as? [String: Any])
        #expect(values["TotWhAbs"] as? Int == c.absorbed)  // the good value beside it, to the Wh where the SF allows
        #expect(values["W"] as? Int == -1200)

        // The export serves the same map: the point not implemented, the one beside it exact.
        let map = try await Discovery(reader: InProcessReader(store), unit: 1).run()
        let exported = try #require(try DeviceDecoder.decode(map.image).models.first { $0.model.id == 701 }?.model)
        #expect(exported[point: "TotWhInj"]?.doubleValue == c.published.flatMap(Double.init))
        #expect(exported[point: "TotWhAbs"]?.doubleValue == Double(c.absorbed))

        device.update(unit: 1) { $0.insert(.init(start: 0, registers: Self.registers(54_321, absorbed: 3_911_300))) }
        let next = try await Self.reading(recorder, totWhInj: "54321")
        #expect(next["errors"] == nil)
        #expect((next["values"] as? [String: Any])?["TotWhAbs"] as? Int == 3_911_300)
        // The device never went offline, nor was discovered again: online throughout.
        let statuses = recorder.lines.filter { $0.contains("\"type\":\"status\"") }
        #expect(statuses.last?.contains("\"state\":\"online\"") == true)
        #expect(statuses.allSatisfy { !$0.contains("offline") })
        #expect(statuses.filter { $0.contains("\"state\":\"online\"") }.count == 1)

        await gateway.stop()
    }
}
