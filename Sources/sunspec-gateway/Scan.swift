import ArgumentParser
import Captures
import Foundation
import Gateway
import Modbus
import Profiles
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

    @Option(help: "A vendor profile: read the device's own registers and map them onto SunSpec (the unit defaults to the profile's).")
    var profile: String?

    func run() async throws {
        if let profile {
            try await scanProfile(try loadProfile(profile))
            return
        }
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
        let decoded: DecodedDevice?
        do {
            decoded = try DeviceDecoder.decode(map.image, base: map.base)
        } catch {
            // The map was found but does not decode: reported without values, and said.
            printError("\(link.endpoint): the map found does not decode: \(error)")
            decoded = nil
        }
        let captured = Timestamp.format(Date())
        if let dump {
            let capture = Capture(device: name, unit: unit, captured: captured, image: mapOnly(map), location: dump)
            do {
                try (CaptureJSON.encode(capture, function: kind.functionCode) + "\n").write(toFile: dump, atomically: true, encoding: .utf8)
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

    /// Reads a vendor device through a profile: the profile's read plan, mapped onto SunSpec.
    private func scanProfile(_ profile: Profile) async throws {
        let modbus = ModbusLink(endpoint: link.endpoint, timeout: timeout)
        let unitID = unitGiven ? unit : profile.defaults.unit
        var registers = VendorRegisters()
        for block in profile.readPlan(maxRegisters: maxRegisters) {
            do {
                let values = try await modbus.read(
                    unit: unitID, address: block.start, count: block.count, kind: block.function)
                let b = RegisterImage.Block(start: block.start, registers: values)
                if block.function == .holding { registers.holding.insert(b) } else { registers.input.insert(b) }
            } catch {
                printError("\(link.endpoint): \(error)")
                throw ExitCode(69)
            }
        }
        let name = device ?? "\(link.endpoint)#\(unitID)"
        let captured = Timestamp.format(Date())
        if let dump {
            let capture = Capture(
                device: name, unit: unitID, captured: captured, image: registers.holding, inputImage: registers.input, location: dump)
            do {
                try (CaptureJSON.encode(capture) + "\n").write(toFile: dump, atomically: true, encoding: .utf8)
            } catch {
                printError("\(dump): \(error.localizedDescription)")
                throw ExitCode(73)
            }
        }
        let mapped = ProfileMapper(profile: profile).map(registers)
        let decoded = try DeviceDecoder.decode(mapped.image, base: ProfileMapper.base).adding(errors: mapped.errors)
        print(
            "unit \(unitID) at \(link.endpoint) through profile \(profile.name): models \(decoded.models.map { String($0.model.id) }.joined(separator: ", "))"
        )
        if read || json {
            var buffer = JSONBuffer()
            for instance in decoded.models {
                ReadingRecord.append(instance, device: name, timestamp: captured, source: "profile:\(profile.name)", to: &buffer)
            }
            print(String(decoding: buffer.bytes, as: UTF8.self), terminator: "")
        }
    }

    /// Whether --unit was given (a profile's unit applies otherwise).
    private var unitGiven: Bool { CommandLine.arguments.contains("--unit") }

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
