import ArgumentParser
import Captures
import Foundation
import Gateway
import Modbus
import ModbusNIO
import Simulation
import SunSpec

/// `sunspec-gateway simulate`: serves captures as live Modbus devices.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve captured register maps as live Modbus devices (one unit id per capture).",
        discussion: """
            TCP serves every capture on one port, each as its own unit id (the capture's unit, else \
            --unit, --unit+1, ...). RTU serves one capture per serial line. Registers not in a \
            capture answer exception 2; unknown units 0x0B; function codes other than 3 and 4, 1. \
            With --writable, functions 6 and 16 write the holding registers (a register not in the \
            capture: exception 2).
            """
    )

    @Argument(help: "Capture files (any format decode reads; a .jsonl serves its first capture).")
    var captures: [String]

    /// Where to serve: `--tcp ADDRESS:PORT` (dotted IPv4, e.g. 127.0.0.1:1502) or `--rtu DEVICE` and its line.
    @OptionGroup var link: LinkOptions

    @Option(help: "Unit id of the first capture that does not name its own.")
    var unit = 1

    @Flag(help: "Move the measured values plausibly over time.")
    var animate = false

    @Flag(help: "Take writes (functions 6 and 16) into the captures' holding registers.")
    var writable = false

    @Option(name: .customLong("max-connections"), help: "Most TCP clients served at once.")
    var maxConnections = 64

    @Option(
        name: .customLong("idle-timeout"),
        help: "Close a TCP client with no complete request for this long (default: never, so a gateway polling rarely is never cut off).")
    var idleTimeout: Duration?

    @Option(help: "Serve the same devices on this many consecutive TCP ports from the one given (a fleet for benchmarks).")
    var ports = 1

    @Option(help: "Stop after this long (default: run until interrupted).")
    var duration: Duration?

    func validate() throws {
        if link.rtu != nil && captures.count != 1 { throw ValidationError("RTU serves one capture per serial line") }
        if let idleTimeout, idleTimeout <= .zero { throw ValidationError("--idle-timeout must be more than 0") }
        guard (0...255).contains(unit) else { throw ValidationError("--unit \(unit) is outside 0...255") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        if case .tcp(_, let port) = link.endpoint, !(1...(65536 - port)).contains(ports) {
            throw ValidationError("--ports \(ports) from port \(port) is outside 1...\(65536 - port): the last port would pass 65535")
        }
    }

    func run() async throws {
        var images: [UInt8: RegisterImage] = [:]
        var inputs: [UInt8: RegisterImage] = [:]
        var next = unit
        for file in captures {
            guard let data = FileManager.default.contents(atPath: file) else {
                printError("\(file): no such file")
                throw ExitStatus.noInput
            }
            var first: Capture?
            let errors = CaptureReader.read([UInt8](data), name: file) { capture in if first == nil { first = capture } }
            guard let capture = first else {
                printError(errors.first?.description ?? "\(file): no capture")
                throw ExitStatus.dataError
            }
            // The capture's own unit id, else the next free one; ids are 0...255 and each is served once.
            var id = capture.unit.flatMap { UInt8(exactly: $0) }.map(Int.init) ?? next
            if id > 255 || images[UInt8(id)] != nil { id = next }
            while id <= 255 && images[UInt8(id)] != nil { id += 1 }
            guard let unit = UInt8(exactly: id) else {
                printError("\(file): no unit id is left for it (ids are 0...255; use --unit to start lower)")
                throw ExitCode.validationFailure
            }
            images[unit] = capture.image
            inputs[unit] = capture.inputImage
            next = id + 1
        }
        let devices = CaptureDevices(images, inputs: inputs, writable: writable)
        let animations = animate ? images.mapValues { Animation(image: $0) } : [:]
        let stop: () async -> Void
        switch link.endpoint {
        case .tcp(let host, let port):
            // Every port's server shares the process's event loop group: a fleet of 1000 ports runs on a few threads.
            var servers: [ModbusServer] = []
            for k in 0..<max(1, ports) {
                let server = ModbusServer(
                    host: host, port: port == 0 ? 0 : port + k, maxConnections: maxConnections, idleTimeout: idleTimeout,
                    source: devices)
                do {
                    try await server.start()
                } catch {
                    printError("\(error)")
                    for started in servers { await started.stop() }
                    throw ExitCode(69)
                }
                servers.append(server)
            }
            let where_ = servers.count == 1 ? "\(host):\(servers[0].port)" : "\(host):\(servers[0].port)-\(servers.last!.port)"
            printNow("serving units \(devices.units.map(String.init).joined(separator: ", ")) on \(where_)")
            stop = { [servers] in for s in servers { await s.stop() } }
        case .rtu(let settings):
            let server = ModbusRTUServer(settings: settings, unit: devices.units[0], source: devices)
            do {
                try server.start()
            } catch {
                printError("\(error)")
                throw ExitCode(69)
            }
            printNow("serving unit \(devices.units[0]) on \(settings.port)")
            stop = { server.stop() }
        }
        let start = ContinuousClock.now
        while duration.map({ ContinuousClock.now - start < $0 }) ?? true {
            do { try await Task.sleep(for: .milliseconds(500)) } catch { break }  // cancelled: stop serving
            let seconds = Double((ContinuousClock.now - start).components.seconds)
            for (unit, animation) in animations {
                devices.update(unit: unit) { animation.apply(at: seconds, to: &$0) }
            }
        }
        await stop()
    }
}
