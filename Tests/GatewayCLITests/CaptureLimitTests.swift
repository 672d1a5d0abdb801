import Foundation
import Testing

/// Inputs one past each limit of `CaptureLimits`, generated here (a few MB each, no parsing past
/// the limit), each decoded beside a good capture that must still be decoded.
@Suite("sunspec-gateway decode past the capture limits")
struct CaptureLimitTests {
    static let head = #"{"format":"sunspec-gateway/registers","version":1,"blocks":["#

    /// Writes `text` to a new temporary file named `name`, decodes it then the battery fixture.
    func decodeBeside(_ name: String, _ text: String) async throws -> (path: String, result: CLI.Result) {
        let folder = try CLI.temporaryDirectory()
        defer { #expect(throws: Never.self) { try FileManager.default.removeItem(at: folder) } }
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: false, encoding: .utf8)
        let result = try await CLI.run(["decode", url.path, "Fixtures/battery-inverter.json"])
        #expect(result.status == 65)
        #expect(result.stderr.split(separator: "\n").count == 1)
        return (url.path, result)
    }

    @Test("1,048,577 blocks: refused at the offset of the one past the limit")
    func blocks() async throws {
        let text = Self.head + String(repeating: "{},", count: 1 << 20) + "{}]}"
        let (path, result) = try await decodeBeside("blocks.json", text)
        let offset = text.utf8.count - 4
        #expect(result.stderr == "\(path): offset \(offset): more than 1048576 blocks (the limit of one capture)\n")
        #expect(result.lines.count == 10)
    }

    @Test("4,194,305 registers over 65 blocks: refused at the register past the limit")
    func registers() async throws {
        let full = #"{"start":0,"registers":["# + String(repeating: "0,", count: 65535) + "0]},"
        let text = Self.head + String(repeating: full, count: 64) + #"{"start":0,"registers":[7]}]}"#
        let (path, result) = try await decodeBeside("registers.json", text)
        let offset = text.utf8.count - 5
        #expect(result.stderr == "\(path): offset \(offset): more than 4194304 registers declared (the limit of one capture)\n")
        #expect(result.lines.count == 10)
    }

    @Test(
        "4,194,305 lines of CSV or mbpoll text (blank lines count, kept blank here for speed): refused before parsing",
        arguments: [
            ("data.csv", "address,value\n40000,1\n" + String(repeating: "\n", count: (1 << 22) - 1)),
            ("poll.txt", "[40001]: \t21365\n" + String(repeating: "\n", count: 1 << 22)),
        ])
    func lines(name: String, text: String) async throws {
        let (path, result) = try await decodeBeside(name, text)
        #expect(result.stderr == "\(path):4194305: more than 4194304 lines (the limit of one file)\n")
        #expect(result.lines.count == 10)
    }

    @Test("a .jsonl of 4,194,305 lines: the captures before the limit decoded, the one past it refused")
    func jsonLines() async throws {
        let good = try String(contentsOfFile: "Fixtures/battery-inverter.json", encoding: .utf8).replacingOccurrences(of: "\n", with: "")
        let text = good + "\n" + good + "\n" + String(repeating: "\n", count: (1 << 22) - 2) + good + "\n"
        let (path, result) = try await decodeBeside("history.jsonl", text)
        #expect(result.stderr == "\(path):4194305: more than 4194304 lines (the limit of one file)\n")
        #expect(result.lines.count == 30)
    }
}
