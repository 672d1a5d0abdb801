import Captures
import Foundation
import SunSpec

/// Decodes a capture's whole SunSpec map over and over (the core decode, and decode plus the
/// reading lines) and prints one JSON line of figures.
enum CoreBench {
    static func run(capture path: String, seconds: Double) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var capture: Capture?
        _ = CaptureReader.read(bytes, name: path) { capture = $0 }
        guard let image = capture?.image else { exit(65) }
        let once = try DeviceDecoder.decode(image)
        let values = once.models.reduce(0) { $0 + count($1.model) }

        let decodeRate = try measure(seconds) {
            let device = try DeviceDecoder.decode(image)
            return device.models.count
        }
        var buffer = JSONBuffer(capacity: 1 << 16)
        let recordRate = try measure(seconds) {
            let device = try DeviceDecoder.decode(image)
            buffer.removeAll()
            for instance in device.models {
                ReadingRecord.append(instance, device: "bess-1", timestamp: "2026-11-29T05:40:00.123Z", to: &buffer)
            }
            return buffer.count
        }
        print(
            #"{"peer":"sunspec-gateway","bench":"core","registers":\#(image.registerCount),"values":\#(values),"decodes_per_s":\#(Int(decodeRate)),"us_per_decode":\#(String(format: "%.2f", 1e6 / decodeRate)),"decode_and_json_per_s":\#(Int(recordRate)),"us_per_decode_and_json":\#(String(format: "%.2f", 1e6 / recordRate))}"#
        )
    }

    /// Runs `body` repeatedly for about `seconds` (after a warm-up) and returns runs per second.
    static func measure(_ seconds: Double, _ body: () throws -> Int) throws -> Double {
        var sink = 0
        for _ in 0..<100 { sink &+= try body() }
        var runs = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        while elapsed < seconds {
            for _ in 0..<200 { sink &+= try body() }
            runs += 200
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        if sink == 42 { print("") }
        return Double(runs) / elapsed
    }

    static func count(_ model: DecodedModel) -> Int {
        guard let definition = model.definition, let values = model.values else { return 0 }
        return count(definition.group, values, top: true)
    }

    static func count(_ group: GroupDefinition, _ values: GroupValues, top: Bool) -> Int {
        var n = group.points.enumerated().filter { $0.element.isPublished && !(top && $0.offset < 2) }.count
        for (g, sub) in group.groups.enumerated() {
            for instance in values.groups[g] { n += count(sub, instance, top: false) }
        }
        return n
    }
}
