import Foundation
import Testing

@Suite("sunspec-gateway models, --models, and a binary on its own")
struct ModelsCommandTests {
    @Test("lists the 112 built-in models")
    func list() async throws {
        let result = try await CLI.run(["models"])
        #expect(result.status == 0)
        #expect(result.lines.count == 114)
        #expect(result.lines.contains { $0.hasPrefix("802   battery") })
        #expect(result.lines.last == "112 models (built-in: pysunspec2 1.3.7)")
    }

    @Test("shows one model's points with offset, type, units, sf and access")
    func show() async throws {
        let result = try await CLI.run(["models", "802"])
        #expect(result.status == 0)
        #expect(result.lines[0] == "model 802 battery: Battery Base Model (L = 62)")
        let soc = try #require(result.lines.first { $0.contains(" SoC ") })
        #expect(soc.split(separator: " ", omittingEmptySubsequences: true) == ["11", "SoC", "uint16", "1", "%WHRtg", "SoC_SF", "R", "M"])
        #expect(try await CLI.run(["models", "4242"]).status == 65)
    }

    @Test("--models loads vendor models and overrides built-in ones; a bad file names itself")
    func modelsDirectory() async throws {
        let dir = try CLI.temporaryDirectory()
        try
            #"{"id":64999,"group":{"name":"acme_rack","type":"group","points":[{"name":"ID","type":"uint16","size":1},{"name":"L","type":"uint16","size":1},{"name":"Temp","type":"int16","size":1,"sf":-1,"units":"C"}]}}"#
            .write(to: dir.appendingPathComponent("model_64999.json"), atomically: true, encoding: .utf8)
        let capture = try CLI.temporaryDirectory().appendingPathComponent("c.json")
        try
            #"{"format":"sunspec-gateway/registers","version":1,"device":"r","blocks":[{"start":0,"registers":[21365,28243,64999,1,235,65535,0]}]}"#
            .write(to: capture, atomically: true, encoding: .utf8)
        let result = try await CLI.run(["decode", "--models", dir.path, capture.path])
        #expect(result.status == 0)
        #expect(result.stdout.contains(#""model":64999,"name":"acme_rack","index":0,"addr":2,"len":1,"values":{"Temp":23.5}"#))
        let without = try await CLI.run(["decode", capture.path])
        #expect(without.stdout.contains(#""values":null,"raw":[235]"#))

        try "{\"id\": 1, \"group\": {\"name\": \"x\"".write(
            to: dir.appendingPathComponent("broken.json"), atomically: true, encoding: .utf8)
        let bad = try await CLI.run(["decode", "--models", dir.path, capture.path])
        #expect(bad.status == 65)
        #expect(bad.stderr.hasPrefix("\(dir.path)/broken.json: offset "))
        #expect(bad.stderr.split(separator: "\n").count == 1)
    }

    @Test("the binary copied alone to another folder still has every model")
    func standalone() async throws {
        let dir = try CLI.temporaryDirectory()
        let copy = dir.appendingPathComponent("sunspec-gateway")
        try FileManager.default.copyItem(at: CLI.binary, to: copy)
        try FileManager.default.copyItem(
            at: CLI.repository.appendingPathComponent("Fixtures/legacy-storage.json"),
            to: dir.appendingPathComponent("l.json"))
        let list = try await CLI.run(["models"], executable: copy, in: dir)
        #expect(list.lines.last == "112 models (built-in: pysunspec2 1.3.7)")
        let decoded = try await CLI.run(["decode", "l.json"], executable: copy, in: dir)
        #expect(decoded.status == 0)
        #expect(decoded.lines.count == 7)
    }
}

@Suite("sunspec-gateway profile and decode --profile")
struct ProfileCommandTests {
    @Test("profile check accepts the shipped profiles and names a mistake with file, line and key (78)")
    func check() async throws {
        let ok = try await CLI.run(["profile", "check", "Profiles/sungrow-sh.yaml"])
        #expect(ok.status == 0)
        #expect(ok.stdout.hasPrefix("Profiles/sungrow-sh.yaml: ok: profile sungrow-sh"))
        let dir = try CLI.temporaryDirectory()
        let bad = dir.appendingPathComponent("bad.yaml")
        try "profile: x\nvendor: A\nproduct: B\nsource: C\nmodels:\n  802:\n    SoC: {address: 1, type: u16, scale: 0.1}\n".write(
            to: bad, atomically: true, encoding: .utf8)
        let result = try await CLI.run(["profile", "check", bad.path])
        #expect(result.status == 78)
        #expect(result.stderr.hasPrefix("\(bad.path):7: models.802.AHRtg: missing mandatory point"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test("profile show prints the read plan and the sources")
    func show() async throws {
        let result = try await CLI.run(["profile", "show", "Profiles/solaredge-storedge.yaml"])
        #expect(result.status == 0)
        #expect(result.lines.contains("  function 3  57600...57667  (68 registers)"))
        #expect(result.lines.contains { $0.hasPrefix("  W ") && $0.contains("fc3 57716 f32 low_first inverted") })
    }

    @Test("decode --profile maps a vendor capture; readings carry the source")
    func decode() async throws {
        let result = try await CLI.run(["decode", "--profile", "Profiles/huawei-luna2000.yaml", "Fixtures/vendor/huawei-luna2000.json"])
        #expect(result.status == 0)
        #expect(result.lines.count == 6)
        let battery = try object(try #require(result.lines.first { $0.contains("\"model\":802") }))
        #expect(battery["source"] as? String == "profile:huawei-luna2000")
        #expect((battery["values"] as? [String: Any])?["W"] as? Int == 2745)
    }
}
