import Gateway
import Modbus
import Simulation
import SunSpec
import Testing

@Suite("Discovery of a device's SunSpec map")
struct DiscoveryTests {
    func discover(_ image: RegisterImage, base: Int? = nil) async throws -> (DiscoveredMap, Int) {
        let reader = CountingReader(InProcessReader(CaptureDevices([1: image])))
        let map = try await Discovery(reader: reader, unit: 1).run(base: base)
        return (map, reader.transactions)
    }

    @Test("the 1,030-register battery inverter in ceil(N/125) + 1 transactions")
    func batteryInverter() async throws {
        let image = try fixtureImage("battery-inverter.json")
        let (map, transactions) = try await discover(image)
        #expect(map.base == 40000)
        #expect(map.models.map(\.id) == [1, 103, 701, 124, 713, 802, 803, 804, 804, 804])
        #expect(map.endMarker)
        #expect(map.notes.isEmpty)
        #expect(transactions == 10)  // 9 reads of 125, the last read-ahead past the end retried to fit
        #expect(transactions <= (1030 + 124) / 125 + 3)
        #expect(map.image.registerCount >= 1030)
        let decoded = try DeviceDecoder.decode(map.image, base: map.base)
        #expect(decoded.models.count == 10)
    }

    @Test("a legacy map at 50000: two bases refused first, still within ceil(N/125) + 3")
    func legacyAt50000() async throws {
        let (map, transactions) = try await discover(try fixtureImage("legacy-storage.json"))
        #expect(map.base == 50000)
        #expect(map.models.map(\.id) == [1, 103, 120, 121, 122, 123, 124])
        // 40000 refused (a full read, then the short-map probe), 0 refused, then ceil(282/125) = 3
        // reads at 50000, the last read-ahead past the end retried to fit, and one fitted read more.
        #expect(transactions == 3 + 3 + 2)
    }

    @Test("real devices: SolarEdge's short model 1, Fimer's vendor models, the DER emulator")
    func realDevices() async throws {
        for (file, count) in [
            ("real/solaredge-2019-10-01.json", 2), ("real/fimer-pvs-2024-07-22.json", 19), ("real/der-emulator-2025.json", 16),
        ] {
            let image = try fixtureImage(file)
            let (map, transactions) = try await discover(image)
            #expect(map.models.count == count, "\(file)")
            #expect(transactions <= (image.registerCount + 124) / 125 + 3, "\(file): \(transactions)")
            #expect(map.image.registerCount >= image.registerCount)
        }
    }

    @Test("registers a device refuses inside models are narrowed down and left as holes; the walk goes on")
    func refusedRegisters() async throws {
        let image = try fixtureImage("real/sma-sunny-boy-3.6-2025-04-10.json")
        let (map, _) = try await discover(image)
        #expect(map.models.map(\.id) == [1, 11, 12, 101, 120, 121, 122, 123, 124, 126, 127, 128, 131, 132, 160, 129, 130])
        #expect(map.notes.contains { $0.contains("refused") })
        #expect(map.holes.count == 110)
        // Everything the device does answer was read.
        for block in image.blocks {
            for a in block.start..<block.end { #expect(map.image.value(at: a) == image.value(at: a)) }
        }
    }

    @Test("a map without an end marker, answering exception 2 past its last model, is still discovered")
    func noEndMarker() async throws {
        var image = try fixtureImage("legacy-storage.json")
        let blocks = image.blocks.map { RegisterImage.Block(start: $0.start, registers: Array($0.registers.dropLast(2))) }
        image = RegisterImage(blocks: blocks)
        let (map, _) = try await discover(image)
        #expect(map.models.count == 7)
        #expect(!map.endMarker)
        #expect(map.notes.first?.contains("no end marker") == true)
    }

    @Test("a one-off map at 40001 is found", arguments: [40001, 1, 50001])
    func oneOff(base: Int) async throws {
        let original = try fixtureImage("legacy-storage.json")
        let shifted = RegisterImage(blocks: original.blocks.map { .init(start: $0.start - 50000 + base, registers: $0.registers) })
        let (map, _) = try await discover(shifted)
        #expect(map.base == base)
        #expect(map.models.first?.address == base + 2)
    }

    @Test("no SunSpec map: an error naming what was tried")
    func noMap() async throws {
        let reader = InProcessReader(CaptureDevices([1: RegisterImage(blocks: [.init(start: 0, registers: [1, 2, 3])])]))
        let error = await #expect(throws: DiscoveryError.self) { try await Discovery(reader: reader, unit: 1).run() }
        #expect(
            error?.message
                == "unit 1: no SunSpec map (40000: exception 2; 0: exception 2; 50000: exception 2; 40001: exception 2; 1: exception 2; 50001: exception 2)"
        )
    }
}

@Suite("Poll plans")
struct PollPlanTests {
    @Test("adjacent models merge up to 125 registers; small models are never split")
    func merge() {
        let plan = PollPlan(spans: [0..<68, 68..<120, 120..<188, 188..<212], maxRegisters: 125)
        #expect(plan.requests.map(\.description) == ["0+120", "120+92"])
    }

    @Test("a large model fills the open request, then full requests")
    func large() {
        // 802 (64), 803 (124), three 804 (176 each), as in the battery inverter.
        let spans = [40312..<40376, 40376..<40500, 40500..<40676, 40676..<40852, 40852..<41028]
        let plan = PollPlan(spans: spans, maxRegisters: 125)
        // 802 and 803 cannot share a request (64 + 124 > 125) and neither may be split, so the
        // optimum is [802], [803 + 1], then ceil(527/125) = 5 for the 804s: 7.
        #expect(plan.requests.count == 7)
        #expect(plan.registerCount == 716)
        // No model of 125 or fewer registers is split.
        for span in spans where span.count <= 125 {
            #expect(plan.requests.contains { $0.range.contains(span.lowerBound) && $0.range.contains(span.upperBound - 1) })
        }
    }

    @Test("a smaller limit gives more requests")
    func smallerLimit() {
        let plan = PollPlan(spans: [0..<60, 60..<120], maxRegisters: 62)
        #expect(plan.requests.map(\.description) == ["0+60", "60+60"])
    }
}
