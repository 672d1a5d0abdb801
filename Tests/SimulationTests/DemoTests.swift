import Captures
import Foundation
import Gateway
import SunSpec
import Testing

@testable import Simulation

/// The repository's Fixtures folder.
let fixturesURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The register image of a fixture capture.
func fixtureImage(_ name: String) throws -> RegisterImage {
    let bytes = [UInt8](try Data(contentsOf: fixturesURL.appendingPathComponent(name)))
    var image: RegisterImage?
    _ = CaptureReader.read(bytes, name: name) { image = $0.image }
    return try #require(image)
}

@Suite("The demo's embedded files")
struct DemoEmbeddingTests {
    @Test("the embedded captures and profile are the repository's (scripts/embed_demo.py was run)")
    func inSync() throws {
        let profile = try String(
            contentsOf: fixturesURL.deletingLastPathComponent().appendingPathComponent("Profiles/sungrow-sh.yaml"), encoding: .utf8)
        #expect(DemoSystem.embeddedProfile == profile.trimmingCharacters(in: .newlines))
        let devices = DemoSystem.devices()
        #expect(devices.image(unit: 1) == (try fixtureImage("battery-inverter.json")))
        #expect(devices.image(unit: 2) == (try fixtureImage("legacy-storage.json")))
    }

    @Test("the demo's configuration loads its embedded profile for unit 3")
    func config() throws {
        let config = try DemoSystem.config(port: 1502, socketPath: "/tmp/demo.sock")
        #expect(config.devices.map(\.name) == ["demo-bess", "demo-legacy", "demo-sungrow"])
        #expect(config.devices.map { $0.profile != nil } == [false, false, true])
    }
}
