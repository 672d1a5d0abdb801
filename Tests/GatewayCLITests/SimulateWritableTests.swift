import Foundation
import Testing

@Suite("simulate --writable, written by mbpoll", .serialized)
struct SimulateWritableTests {
    static let mbpoll = URL(fileURLWithPath: "/usr/bin/mbpoll")

    /// mbpoll against the simulator at `port`: unit 1, holding registers, 0-based addresses.
    static func mbpoll(_ port: Int, _ arguments: [String]) async throws -> CLI.Result {
        try await CLI.run(["-m", "tcp", "-p", "\(port)", "-a", "1", "-t", "4", "-0", "-1"] + arguments, executable: mbpoll)
    }

    /// The values mbpoll printed, by address (`[40004]: 	1234`).
    static func values(_ result: CLI.Result) -> [Int: Int] {
        var values: [Int: Int] = [:]
        for line in result.lines where line.hasPrefix("[") {
            let parts = line.dropFirst().split(separator: "]")
            guard parts.count == 2, let address = Int(parts[0]),
                let value = Int(parts[1].drop { $0 == ":" || $0 == " " || $0 == "\t" }.prefix { $0 != " " })
            else { continue }
            values[address] = value
        }
        return values
    }

    @Test("FC16 and FC6 from mbpoll land in the capture's registers; without --writable, exception 1")
    func writes() async throws {
        let port = 22000 + Int(getpid() % 1000)
        let simulator = try await CLI.simulate("Fixtures/battery-inverter.json", port: port, extra: ["--writable"])
        defer { simulator.terminate() }
        let written = try await Self.mbpoll(port, ["-r", "40004", "127.0.0.1", "4660", "22136"])
        #expect(written.status == 0, "\(written.stderr)")
        // One value: mbpoll writes it with function 6.
        let single = try await Self.mbpoll(port, ["-r", "40006", "127.0.0.1", "17"])
        #expect(single.status == 0, "\(single.stderr)")
        let read = try await Self.mbpoll(port, ["-r", "40004", "-c", "3", "127.0.0.1"])
        #expect(Self.values(read) == [40004: 4660, 40005: 22136, 40006: 17], "\(read.stdout)")
        let readOnlyPort = port + 1
        let readOnly = try await CLI.simulate("Fixtures/battery-inverter.json", port: readOnlyPort)
        defer { readOnly.terminate() }
        let refused = try await Self.mbpoll(readOnlyPort, ["-r", "40004", "127.0.0.1", "4660"])
        #expect(refused.status != 0)
        #expect((refused.stdout + refused.stderr).lowercased().contains("illegal function"), "\(refused.stdout) \(refused.stderr)")
    }
}
