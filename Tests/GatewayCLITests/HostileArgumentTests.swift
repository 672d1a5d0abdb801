import Testing

/// Command-line values that trapped, hung or were silently changed before they were checked.
struct HostileArguments: Sendable, CustomTestStringConvertible {
    let arguments: [String]
    /// The start of what stderr says.
    let message: String
    var testDescription: String { arguments.joined(separator: " ") }
}

@Suite("Hostile command-line values: a usage error (64), never a crash or a hang")
struct HostileArgumentTests {
    static let csv = "Fixtures/battery-inverter.csv"
    static let cases: [HostileArguments] = [
        // libmodbus takes the baud rate as an Int32: the conversion trapped.
        HostileArguments(
            arguments: ["simulate", csv, "--rtu", "/dev/null", "--baud", "99999999999"],
            message: "Error: --baud 99999999999 is outside 300...4000000"),
        HostileArguments(arguments: ["scan", "--rtu", "/dev/null", "--baud", "0"], message: "Error: --baud 0 is outside 300...4000000"),
        // The next unit id after Int.max overflowed.
        HostileArguments(
            arguments: ["simulate", csv, "--tcp", "127.0.0.1:15990", "--unit", "9223372036854775807"],
            message: "Error: --unit 9223372036854775807 is outside 0...255"),
        // Clamped to 255 and served there.
        HostileArguments(
            arguments: ["simulate", csv, "--tcp", "127.0.0.1:15991", "--unit", "300"], message: "Error: --unit 300 is outside 0...255"),
        // Two captures from unit 255: the search for a free id never ended.
        HostileArguments(
            arguments: ["simulate", csv, csv, "--tcp", "127.0.0.1:15992", "--unit", "255"],
            message: "\(csv): no unit id is left for it (ids are 0...255; use --unit to start lower)"),
        // Ports past 65535 wrapped around (65536 became an ephemeral port, 65537 port 1).
        HostileArguments(
            arguments: ["simulate", csv, "--tcp", "127.0.0.1:65535", "--ports", "3"],
            message: "Error: --ports 3 from port 65535 is outside 1...1: the last port would pass 65535"),
        HostileArguments(
            arguments: ["simulate", csv, "--tcp", "127.0.0.1:15993", "--max-connections", "0"],
            message: "Error: --max-connections must be at least 1"),
    ]

    @Test("exit 64 with the reason first on stderr", arguments: cases)
    func refused(_ c: HostileArguments) async throws {
        let result = try await CLI.run(c.arguments, timeout: .seconds(20))
        #expect(result.status == 64, "\(result.stderr.prefix(300))")
        #expect(result.stderr.hasPrefix(c.message), "\(result.stderr.prefix(300))")
        #expect(result.stdout.isEmpty)
    }
}
