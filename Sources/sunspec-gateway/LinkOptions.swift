import ArgumentParser
import Gateway
import Modbus

/// Where a command's Modbus link goes: `--tcp HOST[:PORT]` or `--rtu DEVICE` with its line settings.
struct LinkOptions: ParsableArguments {
    @Option(help: "Modbus TCP device: HOST[:PORT] (default port 502).")
    var tcp: String?

    @Option(help: "Modbus RTU serial device (/dev/ttyUSB0).")
    var rtu: String?

    @Option(help: "RTU baud rate.")
    var baud = 19200

    @Option(help: "RTU parity: N, E or O.")
    var parity = "E"

    @Option(name: .customLong("data-bits"), help: "RTU data bits.")
    var dataBits = 8

    @Option(name: .customLong("stop-bits"), help: "RTU stop bits.")
    var stopBits = 1

    func validate() throws {
        guard (tcp == nil) != (rtu == nil) else { throw ValidationError("give one of --tcp HOST[:PORT] or --rtu DEVICE") }
        if let tcp, Endpoint.parseTCP(tcp) == nil { throw ValidationError("--tcp '\(tcp)' is not HOST[:PORT]") }
        guard SerialSettings.Parity(rawValue: parity.uppercased()) != nil else { throw ValidationError("--parity must be N, E or O") }
        guard [5, 6, 7, 8].contains(dataBits) else { throw ValidationError("--data-bits must be 5 to 8") }
        guard [1, 2].contains(stopBits) else { throw ValidationError("--stop-bits must be 1 or 2") }
        guard (300...4_000_000).contains(baud) else { throw ValidationError("--baud \(baud) is outside 300...4000000") }
    }

    /// The endpoint described.
    var endpoint: Endpoint {
        if let tcp { return Endpoint.parseTCP(tcp)! }
        return .rtu(
            SerialSettings(
                port: rtu!, baud: baud, parity: SerialSettings.Parity(rawValue: parity.uppercased())!, dataBits: dataBits,
                stopBits: stopBits))
    }
}

extension Duration: @retroactive ExpressibleByArgument {
    public init?(argument: String) {
        guard let d = DurationText.parse(argument) else { return nil }
        self = d
    }
}
