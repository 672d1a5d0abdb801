import ArgumentParser

/// The `sunspec-gateway` command line.
@main
struct GatewayCommand: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "sunspec-gateway",
        abstract: "Decode, poll and republish SunSpec devices (battery inverters, storage systems) over Modbus.",
        discussion: """
            Exit status: 0 success; 64 usage error; 65 bad input data (capture, model file); \
            66 input file missing; 69 device unavailable; 73 cannot create an output file; \
            74 output error; 78 bad configuration.
            """,
        version: version,
        subcommands: [Run.self, Demo.self, Scan.self, Simulate.self, Decode.self, Models.self, ProfileCommand.self, ControlCommand.self]
    )
}
