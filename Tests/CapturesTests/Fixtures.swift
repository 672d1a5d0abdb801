import Captures
import Foundation
import SunSpec
import Testing

/// The repository's Fixtures folder.
let fixturesURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The bytes of a fixture.
func fixture(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: fixturesURL.appendingPathComponent(name)))
}

/// Reads captures from bytes, failing the test on any error.
func captures(_ bytes: [UInt8], name: String = "input", options: CaptureOptions = CaptureOptions()) -> [Capture] {
    var out: [Capture] = []
    let errors = CaptureReader.read(bytes, name: name, options: options) { out.append($0) }
    #expect(errors.isEmpty, "\(errors)")
    return out
}

/// The errors reading some text gives.
func errors(_ text: String, name: String = "in.txt", format: CaptureFormat? = nil) -> [String] {
    CaptureReader.read(Array(text.utf8), name: name, options: CaptureOptions(format: format)) { _ in }.map(\.description)
}

/// A point's value in a decoded device: "802.SoC", "804#2.SoC", "803.string[1].StrSoC" (1-based repeats).
func value(_ device: DecodedDevice, _ path: String) -> PointValue? {
    var parts = path.split(separator: ".").map(String.init)
    let head = parts.removeFirst().split(separator: "#")
    let id = Int(head[0])!
    let nth = head.count > 1 ? Int(head[1])! - 1 : 0
    guard let instance = device.models.filter({ $0.model.id == id }).dropFirst(nth).first,
        let definition = instance.model.definition, var values = instance.model.values
    else { return nil }
    var group = definition.group
    while parts.count > 1 {
        let part = parts.removeFirst()
        let name = String(part.prefix { $0 != "[" })
        let repeatIndex = part.contains("[") ? Int(part.drop { $0 != "[" }.dropFirst().dropLast())! - 1 : 0
        guard let g = group.groups.firstIndex(where: { $0.name == name }) else { return nil }
        group = group.groups[g]
        values = values.groups[g][repeatIndex]
    }
    guard let p = group.pointIndex(named: parts[0]) else { return nil }
    return instance.model.value(values, p)
}
