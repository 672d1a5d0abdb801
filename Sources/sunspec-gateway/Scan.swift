import ArgumentParser
import Captures
import Foundation
import Gateway
import Modbus
import SunSpec

/// `sunspec-gateway scan`: finds a device's SunSpec models; prints them, reads them, or dumps the map.
struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Discover a device's SunSpec models over Modbus TCP or RTU.",
        discussion: """
            Bases tried: 40000, 0, 50000, 40001, 1, 50001 (or --base). Exit status 69 when the device \
            does not answer or has no SunSpec map; 73 when the dump cannot be written.
            """
    )

    @OptionGroup var link: LinkOptions

    @Option(help: "Modbus unit id.")
    var unit = 1

    @Option(help: "Address of the SunS marker (default: discover).")
    var base: Int?

    @Option(help: "Response timeout (500ms, 1s).")
    var timeout: Duration = .seconds(1)

    @Option(name: .customLong("max-registers"), help: "Most registers per read (the device's limit).")
    var maxRegisters = 125

    @Flag(help: "Read input registers (function 4) instead of holding registers.")
    var input = false

    @Flag(help: "Print the models as JSON.")
    var json = false

    @Flag(help: "Print the readings (NDJSON) after the models.")
    var read = false

    @Option(help: "Write the whole SunSpec map to FILE in the capture format.")
    var dump: String?

    @Option(help: "Device name for readings and the dump (default: the endpoint).")
    var device: String?

    func run() async throws {
        let modbus = ModbusLink(endpoint: link.endpoint, timeout: timeout)
        let kind: RegisterKind = input ? .input : .holding
        let map: DiscoveredMap
        do {
            map = try await Discovery(reader: modbus, unit: unit, kind: kind, maxRegisters: maxRegisters, timeout: timeout).run(base: base)
        } catch {
            printError("\(link.endpoint): \(error)")
            throw ExitCode(69)
        }
        let name = device ?? "\(link.endpoint)#\(unit)"
        let decoded = try? DeviceDecoder.decode(map.image, base: map.base)
        let captured = Timestamp.format(Date())
        if let dump {
            let capture = Capture(device: name, unit: unit, captured: captured, image: mapOnly(map), location: dump)
            do {
                try (CaptureJSON.encode(capture, function: kind.function) + "\n").write(toFile: dump, atomically: true, encoding: .utf8)
            } catch {
                printError("\(dump): \(error.localizedDescription)")
                throw ExitCode(73)
            }
        }
        if json {
            print(ScanReport.json(map, decoded: decoded, unit: unit, endpoint: "\(link.endpoint)"))
        } else {
            print(ScanReport.text(map, decoded: decoded, unit: unit, endpoint: "\(link.endpoint)"))
        }
        if read, let decoded {
            var buffer = JSONBuffer()
            for instance in decoded.models {
                ReadingRecord.append(instance, device: name, timestamp: captured, to: &buffer)
            }
            print(String(decoding: buffer.bytes, as: UTF8.self), terminator: "")
        }
    }

    /// The registers of the SunSpec map only (the marker through the end marker).
    private func mapOnly(_ map: DiscoveredMap) -> RegisterImage {
        let end = (map.models.last.map { $0.span.upperBound } ?? map.base + 2) + (map.endMarker ? 2 : 0)
        var image = RegisterImage()
        for block in map.image.blocks where block.end > map.base && block.start < end {
            let lo = max(block.start, map.base), hi = min(block.end, end)
            image.insert(.init(start: lo, registers: Array(block.registers[(lo - block.start)..<(hi - block.start)])))
        }
        return image
    }
}
