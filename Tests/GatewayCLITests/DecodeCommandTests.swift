import Foundation
import Testing

@Suite("sunspec-gateway decode")
struct DecodeCommandTests {
    @Test("decodes a capture into one reading line per model instance")
    func readings() async throws {
        let result = try await CLI.run(["decode", "Fixtures/battery-inverter.json"])
        #expect(result.status == 0)
        #expect(result.stderr == "")
        #expect(result.lines.count == 10)
        let battery = try object(result.lines[5])
        #expect(battery["type"] as? String == "reading")
        #expect(battery["device"] as? String == "bess-1")
        #expect(battery["model"] as? Int == 802)
        #expect(battery["name"] as? String == "battery")
        #expect(battery["addr"] as? Int == 40312)
        #expect(battery["len"] as? Int == 62)
        #expect(battery["index"] as? Int == 0)
        #expect(result.lines[5].contains(#""SoC":67.5,"#))
        #expect(result.lines[9].contains(#""model":804,"name":"lithium_ion_string","index":2,"addr":40852"#))
    }

    @Test("--device, --format, --base and --zero-based")
    func options() async throws {
        let named = try await CLI.run(["decode", "--device", "rack-3", "Fixtures/legacy-storage.json"])
        #expect(named.status == 0)
        #expect(named.lines.allSatisfy { $0.contains(#""device":"rack-3""#) })
        let mbpoll = try await CLI.run([
            "decode", "--format", "mbpoll", "--zero-based", "--base", "50000", "Fixtures/legacy-storage.mbpoll0.txt",
        ])
        #expect(mbpoll.status == 0)
        #expect(mbpoll.lines.count == 7)
        #expect(mbpoll.lines.first?.contains(#""device":"legacy-storage.mbpoll0""#) == true)
        let wrongBase = try await CLI.run(["decode", "--base", "40000", "Fixtures/legacy-storage.json"])
        #expect(wrongBase.status == 65)
        #expect(wrongBase.stderr == "Fixtures/legacy-storage.json: no SunS marker at 40000\n")
    }

    @Test("--meta puts one meta record per model instance before the readings")
    func meta() async throws {
        let result = try await CLI.run(["decode", "--meta", "Fixtures/battery-inverter.json"])
        #expect(result.status == 0)
        #expect(result.lines.count == 20)
        #expect(result.lines.prefix(10).allSatisfy { $0.hasPrefix(#"{"type":"meta""#) })
        #expect(result.lines.suffix(10).allSatisfy { $0.hasPrefix(#"{"type":"reading""#) })
        let meta = try object(result.lines[5])
        #expect(meta["label"] as? String == "Battery Base Model")
        let points = try #require(meta["points"] as? [String: Any])
        let soc = try #require(points["SoC"] as? [String: Any])
        #expect(soc["units"] as? String == "%WHRtg")
        let chaSt = try #require(points["ChaSt"] as? [String: Any])
        #expect((chaSt["symbols"] as? [String: String])?["3"] == "DISCHARGING")
    }

    @Test("a .jsonl decodes each capture in turn with its timestamp")
    func history() async throws {
        let result = try await CLI.run(["decode", "Fixtures/history.jsonl"])
        #expect(result.status == 0)
        #expect(result.lines.count == 200)
        #expect(result.lines[199].contains(#""ts":"2026-11-29T05:40:19.123Z""#))
    }

    @Test("bad input: one line on stderr naming file and line, status 65, the good parts still printed")
    func badInput() async throws {
        let dir = try CLI.temporaryDirectory()
        let history = try String(contentsOf: CLI.repository.appendingPathComponent("Fixtures/history.jsonl"), encoding: .utf8)
        let good = String(try #require(history.split(separator: "\n").first))
        let file = dir.appendingPathComponent("mixed.jsonl")
        try
            (good + "\n{\"format\":\"sunspec-gateway/registers\",\"version\":1,\"blocks\":[{\"start\":0,\"registers\":[1,x]}]}\n" + good
            + "\n")
            .write(to: file, atomically: true, encoding: .utf8)
        let result = try await CLI.run(["decode", file.path])
        #expect(result.status == 65)
        #expect(result.lines.count == 20)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr == "\(file.path):2: offset 86: blocks[0].registers[1]: expected an integer\n")
    }

    @Test("a missing file is status 66, and the other files are still decoded")
    func missingFile() async throws {
        let result = try await CLI.run(["decode", "Fixtures/nope.json", "Fixtures/legacy-storage.json"])
        #expect(result.status == 66)
        #expect(result.stderr == "Fixtures/nope.json: no such file\n")
        #expect(result.lines.count == 7)
    }

    @Test("a chain without an end marker keeps its models and warns")
    func noEndMarker() async throws {
        let dir = try CLI.temporaryDirectory()
        let file = dir.appendingPathComponent("cut.json")
        try
            #"{"format":"sunspec-gateway/registers","version":1,"device":"x","blocks":[{"start":40000,"registers":[21365,28243,713,7,1,2,3,4,5,65535,65535]}]}"#
            .write(to: file, atomically: true, encoding: .utf8)
        let result = try await CLI.run(["decode", file.path])
        #expect(result.status == 0)
        #expect(result.lines.count == 1)
        #expect(result.stderr == "\(file.path): warning: the chain runs off the captured registers at 40011 without an end marker\n")
    }

    @Test("a pysunspec2 device with uint64 and acc64 values of 2^63 and more decodes them exactly")
    func wideUnsigned() async throws {
        let folder = try CLI.temporaryDirectory()
        defer { #expect(throws: Never.self) { try FileManager.default.removeItem(at: folder) } }
        let url = folder.appendingPathComponent("wide.json")
        let device =
            #"{"name":"wide","models":[{"ID":701,"L":153,"TotWh_SF":0,"TotWhInj":18446744073709551615,"#
            + #""TotWhAbs":9223372036854775808},{"ID":122,"L":44,"ActWh":18446744073709551615}]}"#
        try device.write(to: url, atomically: false, encoding: .utf8)
        let result = try await CLI.run(["decode", url.path])
        #expect(result.status == 0)
        #expect(result.stderr == "")
        #expect(result.lines.count == 2)
        #expect(result.lines.first?.contains(#""TotWhInj":null,"TotWhAbs":9223372036854775808,"#) == true)
        #expect(result.lines.last?.contains(#""ActWh":18446744073709551615,"#) == true)
    }

    @Test("usage errors are status 64")
    func usage() async throws {
        #expect(try await CLI.run(["decode"]).status == 64)
        #expect(try await CLI.run(["decode", "--format", "xml", "a"]).status == 64)
        #expect(try await CLI.run(["decode", "--base", "70000", "a"]).status == 64)
    }
}
