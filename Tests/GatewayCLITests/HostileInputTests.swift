import Foundation
import Testing

@Suite("sunspec-gateway decode and profile check with hostile input")
struct HostileInputTests {
    /// A valid capture with 200,000 levels of nesting under an unknown key.
    func deepCapture() throws -> URL {
        let fixture = try String(contentsOfFile: "Fixtures/battery-inverter.json", encoding: .utf8)
        let deep = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        let text = fixture.replacingOccurrences(of: "{", with: "{\"x-deep\": \(deep), ", options: [], range: fixture.range(of: "{"))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("deep-\(UUID().uuidString.prefix(8)).json")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test("200,000 levels of nesting: exit 65 and one line with the byte offset; the good file beside it is decoded")
    func deepNesting() async throws {
        let deep = try deepCapture()
        defer { #expect(throws: Never.self) { try FileManager.default.removeItem(at: deep) } }
        let result = try await CLI.run(["decode", deep.path, "Fixtures/battery-inverter.json"])
        #expect(result.status == 65)
        #expect(result.stderr.hasSuffix(": nesting deeper than 512 levels\n"))
        #expect(result.stderr.hasPrefix("\(deep.path): offset "))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.lines.count == 10)
    }

    @Test("simulate with 200,000 levels of nesting: exit 65 and one line at load, nothing served")
    func deepSimulate() async throws {
        let deep = try deepCapture()
        defer { #expect(throws: Never.self) { try FileManager.default.removeItem(at: deep) } }
        // Served, it would print "serving units ..." and exit 0 after the duration.
        let port = 23000 + Int(getpid() % 1000)
        let result = try await CLI.run(["simulate", deep.path, "--tcp", "127.0.0.1:\(port)", "--duration", "5s"])
        #expect(result.status == 65)
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix("\(deep.path): offset "))
        #expect(result.stderr.hasSuffix(": nesting deeper than 512 levels\n"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test("a constant no point type can hold is refused by profile check (78, file:line:key)")
    func hugeConstant() async throws {
        let profile = try String(contentsOfFile: "Profiles/sungrow-sh.yaml", encoding: .utf8)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("c30-\(UUID().uuidString.prefix(8)).yaml")
        // 802's AHRtg (a uint16 with a scale factor) as a constant of 1e30.
        let changed = profile.replacingOccurrences(of: "    AHRtg: null\n", with: "    AHRtg: 1e30\n")
        try #require(changed != profile)
        try changed.write(to: url, atomically: true, encoding: .utf8)
        defer { #expect(throws: Never.self) { try FileManager.default.removeItem(at: url) } }
        let result = try await CLI.run(["profile", "check", url.path])
        #expect(result.status == 78)
        #expect(result.stderr.contains("models.802.AHRtg: 1e+30 cannot be held by AHRtg"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test("a deep line in a .jsonl: exit 65 naming the line and offset; the lines around it are decoded")
    func deepLine() async throws {
        let good = try String(contentsOfFile: "Fixtures/battery-inverter.json", encoding: .utf8).replacingOccurrences(of: "\n", with: "")
        let deep = "{\"x\":" + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000) + "}"
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("deep-\(UUID().uuidString.prefix(8)).jsonl")
        try [good, deep, good].joined(separator: "\n").appending("\n").write(to: url, atomically: true, encoding: .utf8)
        defer { #expect(throws: Never.self) { try FileManager.default.removeItem(at: url) } }
        let result = try await CLI.run(["decode", url.path])
        #expect(result.status == 65)
        #expect(result.stderr == "\(url.path):2: offset 516: nesting deeper than 512 levels\n")
        #expect(result.lines.count == 20)
    }

    @Test("a deep model file given with --models: exit 65, one line")
    func deepModelFile() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("deep-models-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { #expect(throws: Never.self) { try FileManager.default.removeItem(at: folder) } }
        let deep = "{\"id\":64000,\"x\":" + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000) + "}"
        try deep.write(to: folder.appendingPathComponent("m.json"), atomically: true, encoding: .utf8)
        let result = try await CLI.run(["models", "--models", folder.path])
        #expect(result.status == 65)
        #expect(result.stderr == "\(folder.path)/m.json: offset 527: nesting deeper than 512 levels\n")
    }
}
