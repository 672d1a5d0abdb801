import Gateway
import SunSpec
import Testing

@Suite("Quirks for devices whose SunSpec is broken")
struct QuirksTests {
    func decode(_ image: RegisterImage, _ quirks: Quirks) throws -> DecodedDevice {
        try DeviceDecoder.decode(image, base: quirks.base, catalog: quirks.catalog())
    }

    func value(_ device: DecodedDevice, _ model: Int, _ point: String) -> PointValue? {
        device.models.first { $0.model.id == model }?.model[point: point]
    }

    @Test("power factor in percent (SolarEdge's 101 PF of 95.83) is scaled to a ratio")
    func powerFactorPercent() throws {
        let image = try fixtureImage("real/solaredge-2019-10-01.json")
        #expect(value(try decode(image, Quirks()), 101, "PF")?.doubleValue == 95.83)
        var quirks = Quirks()
        quirks.powerFactorPercent = true
        #expect(value(try decode(image, quirks), 101, "PF")?.doubleValue == 0.9583)
        // Other points are untouched.
        #expect(value(try decode(image, quirks), 101, "W")?.doubleValue == 509.2)
    }

    @Test("accumulators that are really signed (negative acc32 energy) decode as signed")
    func signedAccumulators() throws {
        var image = try fixtureImage("legacy-storage.json")
        // 103 WH (acc32) at offset 24 of the model at 50070 holds -256 as two's complement.
        image.insert(.init(start: 50070 + 24, registers: [0xFFFF, 0xFF00]))
        let plain = value(try decode(image, Quirks()), 103, "WH")?.doubleValue ?? 0
        #expect(plain > 4e9)
        var quirks = Quirks()
        quirks.signedAccumulators = true
        let fixed = try #require(value(try decode(image, quirks), 103, "WH")?.doubleValue)
        #expect(fixed < 0)
    }

    @Test("a scale factor the device gets wrong is overridden")
    func scaleFactorOverride() throws {
        let image = try fixtureImage("legacy-storage.json")
        let plain = try #require(value(try decode(image, Quirks()), 103, "W")?.doubleValue)
        var quirks = Quirks()
        quirks.scaleFactors = ["103.W_SF": -1]
        let fixed = try #require(value(try decode(image, quirks), 103, "W")?.doubleValue)
        #expect(plain == 3200)  // raw 3200, W_SF 0 as the device reports it
        #expect(fixed == 320)
    }

    @Test("a map whose base is one off is found with the base quirk")
    func baseOffByOne() throws {
        let original = try fixtureImage("legacy-storage.json")
        let shifted = RegisterImage(blocks: original.blocks.map { .init(start: $0.start + 1, registers: $0.registers) })
        var quirks = Quirks()
        quirks.base = 50001
        #expect(try decode(shifted, quirks).models.first?.address == 50003)
    }

    @Test("quirks parse from the device's config")
    func config() throws {
        let yaml = """
            devices:
              - name: se
                tcp: "10.0.0.9:1502"
                quirks: {power_factor_percent: true, signed_accumulators: true, base: 40001, unit_offset: 1,
                         scale_factors: {"103.W_SF": 0}, blocks: [[40000, 100]]}
            """
        let device = try #require(try GatewayConfig.parse(yaml, file: "g.yaml").devices.first)
        #expect(device.quirks.powerFactorPercent)
        #expect(device.quirks.signedAccumulators)
        #expect(device.quirks.base == 40001)
        #expect(device.quirks.unitOffset == 1)
        #expect(device.quirks.scaleFactors == ["103.W_SF": 0])
        #expect(device.quirks.blocks == [40000..<40100])
        let bad = #expect(throws: ConfigError.self) {
            try GatewayConfig.parse("devices:\n  - {name: a, tcp: h, quirks: {scale_factors: {W_SF: 1}}}", file: "g.yaml")
        }
        #expect(bad?.description.contains("quirks.scale_factors.W_SF: expected MODEL.SF_POINT (103.W_SF)") == true)
    }
}
