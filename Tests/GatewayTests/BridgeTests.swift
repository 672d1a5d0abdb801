import Captures
import Foundation
import Gateway
import Logging
import Modbus
import Profiles
import ServiceLifecycle
import Simulation
import SunSpec
import Testing

@Suite("Bridging: a profile device polled live, and exported as SunSpec", .serialized)
struct BridgeTests {
    @Test("a Sungrow (input registers, low word first) is streamed as SunSpec and exported at 40000")
    func sungrow() async throws {
        let bytes = [UInt8](try Data(contentsOf: fixturesURL.appendingPathComponent("vendor/sungrow-sh.json")))
        var capture: Capture?
        _ = CaptureReader.read(bytes, name: "sungrow") { capture = $0 }
        let vendor = try #require(capture)
        let device = CaptureDevices([1: vendor.image], inputs: [1: vendor.inputImage])
        let profile = try Profile.load(
            path: fixturesURL.deletingLastPathComponent().appendingPathComponent("Profiles/sungrow-sh.yaml").path)
        let config = DeviceConfig(
            name: "sungrow", endpoint: .tcp(host: "sim", port: 1), interval: .milliseconds(100), profile: profile, exportUnit: 1)
        let (gateway, store) = try await RunningGateway.startExporting([config], readers: ["sungrow": InProcessReader(device)])
        let path = gateway.path
        let client = try #require(StreamClient(path: path))
        let battery = json(try #require(await client.line { $0.contains("\"type\":\"reading\"") && $0.contains("\"model\":802") }))
        #expect(battery["source"] as? String == "profile:sungrow-sh")
        let values = try #require(battery["values"] as? [String: Any])
        #expect(values["SoC"] as? Double == 64.8)
        #expect(values["W"] as? Int == 2600)
        #expect(values["ChaSt"] as? Int == 3)
        #expect(values["SoH"] is NSNull)
        // The export serves the same values as a standard SunSpec map.
        let map = try await Discovery(reader: InProcessReader(store), unit: 1).run()
        #expect(map.base == 40000)
        #expect(map.models.map(\.id) == [1, 802, 713, 124, 701, 803])
        let exported = try DeviceDecoder.decode(map.image)
        let soc = exported.models.first { $0.model.id == 802 }?.model[point: "SoC"]
        #expect(soc?.doubleValue == 64.8)
        await gateway.stop()
    }

    @Test("a profile in the config is loaded, relative to the config file; its mistakes stop the config")
    func config() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ssgw-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try """
        profile: bad
        vendor: A
        product: B
        source: C
        models:
          802:
            SoC: {address: 1, type: u99}
        """.write(to: dir.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        let source = fixturesURL.deletingLastPathComponent().appendingPathComponent("Profiles/victron-gx-system.yaml")
        try FileManager.default.copyItem(at: source, to: dir.appendingPathComponent("victron.yaml"))
        let good = try GatewayConfig.parse(
            "export: {modbus_tcp: {listen: \"127.0.0.1:1502\"}}\ndevices:\n  - {name: v, tcp: \"10.0.0.2\", profile: victron.yaml}\n  - {name: s, tcp: \"10.0.0.3\"}",
            file: dir.appendingPathComponent("g.yaml").path)
        #expect(good.devices[0].profile?.name == "victron-gx-system")
        #expect(good.devices[0].unit == 100)
        #expect(good.devices.map(\.exportUnit) == [1, 2])
        #expect(good.export == ExportSettings(host: "127.0.0.1", port: 1502, maxConnections: 32))
        let bad = #expect(throws: ConfigError.self) {
            try GatewayConfig.parse("devices:\n  - {name: v, tcp: h, profile: bad.yaml}", file: dir.appendingPathComponent("g.yaml").path)
        }
        #expect(
            bad?.description
                == "\(dir.path)/bad.yaml:7: models.802.SoC.type: 'u99' is not one of u16, s16, u32, s32, u64, s64, f32, f64, string")
    }
}
