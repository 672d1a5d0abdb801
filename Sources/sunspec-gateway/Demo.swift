import ArgumentParser
import Foundation
import Gateway
import Modbus
import ModbusNIO
import Simulation

/// `sunspec-gateway demo`: the whole gateway against a simulated battery system, no files needed.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Poll a simulated battery system through libmodbus and stream its readings (no files needed).",
        discussion: """
            Starts a battery inverter (unit 1), a legacy storage inverter (unit 2) and a Sungrow hybrid \
            read through its vendor profile (unit 3) on a loopback \
            Modbus TCP port, polls them with the real engine, publishes the stream on a socket in a \
            temporary folder (its path is printed; connect with e.g. `socat - UNIX-CONNECT:PATH`) and \
            mirrors it to standard output. Stop with Ctrl-C, or give --duration.
            """
    )

    @Option(help: "Stop after this long (10s, 1m); default: run until interrupted.")
    var duration: Duration?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "warning"

    func run() async throws {
        let devices = DemoSystem.devices()
        let server = ModbusServer(host: "127.0.0.1", port: 0, source: devices)
        let port: Int
        do {
            port = try await server.start()
        } catch {
            printError("cannot start the simulated devices: \(error)")
            throw ExitCode(69)
        }
        do {
            try await pollAndStream(devices: devices, port: port)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// The gateway against the simulated devices on `port`.
    private func pollAndStream(devices: CaptureDevices, port: Int) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sunspec-gateway-demo-\(getpid())")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let settings = try DemoSystem.config(
            port: port, socketPath: folder.appendingPathComponent("readings.sock").path, controlFolder: folder.path)
        printError(
            "simulated battery system on 127.0.0.1:\(port) (unit 1 battery inverter, unit 2 legacy storage, unit 3 Sungrow hybrid through Profiles/sungrow-sh.yaml)"
        )
        printError("stream: \(settings.socketPath)   (try: socat - UNIX-CONNECT:\(settings.socketPath))")
        printError("control: \(settings.control?.socketPath ?? "-")   (try: sunspec-gateway control --socket PATH capabilities demo-bess)")
        let request = DemoControlRequest(readings: settings.socketPath, control: settings.control?.socketPath)
        try await serve(
            settings, logger: makeLogger(level: logLevel), mirror: true, extra: [AnimationService(devices: devices)], duration: duration,
            onStreamReady: { request.start() })
    }
}
