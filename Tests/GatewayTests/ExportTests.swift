import Foundation
import Gateway
import Logging
import Modbus
import ModbusNIO
import ServiceLifecycle
import Simulation
import SunSpec
import Testing

@Suite("The SunSpec Modbus TCP export", .serialized)
struct ExportTests {
    @Test("a SunSpec device is re-served at 40000 with the same values; offline answers 0x0B; writes get exception 1")
    func export() async throws {
        let legacy = CaptureDevices([1: try fixtureImage("legacy-storage.json")])
        let config = DeviceConfig(name: "legacy", endpoint: .tcp(host: "sim", port: 1), interval: .milliseconds(100), exportUnit: 1)
        // Unit 2 is exported by a device that never answers.
        let silent = DeviceConfig(name: "silent", endpoint: .tcp(host: "sim", port: 2), exportUnit: 2)
        let (gateway, store) = try await RunningGateway.startExporting(
            [config, silent], readers: ["legacy": InProcessReader(legacy), "silent": InProcessReader(CaptureDevices([:]))])
        let server = ModbusServer(port: 0, source: store)
        let port = try await server.start()
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: port))
        // The device is exported once its map was read.
        let client = Recorder()
        gateway.hub.subscribe(client)
        let legacyIs = { (state: String) in
            { @Sendable (line: String) in json(line)["device"] as? String == "legacy" && json(line)["state"] as? String == state }
        }
        #expect(await client.line(where: legacyIs("online")) != nil)
        #expect(store.isOnline(unit: 1))
        let map = try await Discovery(reader: link, unit: 1).run()
        #expect(map.base == 40000)
        #expect(map.models.map(\.id) == [1, 103, 120, 121, 122, 123, 124])
        let exported = try DeviceDecoder.decode(map.image)
        let original = try DeviceDecoder.decode(try fixtureImage("legacy-storage.json"))
        #expect(exported.models.map(\.model.points) == original.models.map(\.model.points))
        // Input registers read the same map.
        #expect(try await link.read(unit: 1, address: 40000, count: 2, kind: .input) == [0x5375, 0x6E53])
        // Unit 2 is configured but has no device online: 0x0B.
        let offline = await #expect(throws: ModbusError.self) { try await link.read(unit: 2, address: 40000, count: 2) }
        #expect(offline?.kind == .exception(0x0B))
        // The device goes away: its export unit answers 0x0B too.
        legacy.update(unit: 1) { $0 = RegisterImage() }
        #expect(await client.line(where: legacyIs("offline")) != nil)
        #expect(!store.isOnline(unit: 1))
        let gone = await #expect(throws: ModbusError.self) { try await link.read(unit: 1, address: 40000, count: 2) }
        #expect(gone?.kind == .exception(0x0B))
        await gateway.stop()
        await server.stop()
    }
}
