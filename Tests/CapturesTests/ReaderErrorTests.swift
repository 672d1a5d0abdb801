import Captures
import SunSpec
import Testing

@Suite("Capture readers: formats and bad input")
struct ReaderErrorTests {
    @Test("detection by content")
    func detection() {
        #expect(CaptureFormat.detect(Array(#"{"format":"sunspec-gateway/registers"}"#.utf8)) == .capture)
        #expect(CaptureFormat.detect(Array(#"  {"name":"x","models":[]}"#.utf8)) == .pysunspec2)
        #expect(CaptureFormat.detect(Array("banner\n[40001]: \t21365\n".utf8)) == .mbpoll)
        #expect(CaptureFormat.detect(Array("address,value\n40000,21365\n".utf8)) == .csv)
    }

    @Test("mbpoll: 1-based by default, 0-based on request, hex and signed values")
    func mbpoll() throws {
        let text = "mbpoll 1.0-0\n-- Polling slave 1...\n[40001]: \t21365\n[40002]: \t0x6E53\n[40003]: \t-1\n"
        let one = try #require(captures(Array(text.utf8)).first)
        #expect(one.image.blocks == [.init(start: 40000, registers: [0x5375, 0x6E53, 0xFFFF])])
        let zero = try #require(captures(Array(text.utf8), options: CaptureOptions(zeroBased: true)).first)
        #expect(zero.image.blocks.first?.start == 40001)
    }

    @Test("CSV: header, hex, comments, gaps")
    func csv() throws {
        let text = "address,value\n40000,21365\n0x9C41,0x6E53 # SunS\n\n40010,7\n"
        let capture = try #require(captures(Array(text.utf8)).first)
        #expect(capture.image.blocks == [.init(start: 40000, registers: [0x5375, 0x6E53]), .init(start: 40010, registers: [7])])
    }

    @Test("a register written as null in a capture is a hole")
    func nullRegister() throws {
        let text = #"{"format":"sunspec-gateway/registers","version":1,"blocks":[{"start":10,"registers":[1,null,3]}]}"#
        let capture = try #require(captures(Array(text.utf8)).first)
        #expect(capture.image.value(at: 11) == nil)
        #expect(capture.image.value(at: 12) == 3)
    }

    @Test(
        "bad input names the file and the line or offset",
        arguments: [
            (
                #"{"format":"sunspec-gateway/registers","version":1,"blocks":[{"start":1,"registers":[1,2"#,
                "in.txt: offset 87: expected ',' or ']'"
            ),
            (#"{"format":"sunspec-gateway/registers","version":2,"blocks":[]}"#, "in.txt: capture version 2 is not supported"),
            (#"{"format":"other","version":1,"blocks":[]}"#, "in.txt: format is 'other'"),
            (
                #"{"format":"sunspec-gateway/registers","version":1,"blocks":[{"start":1,"registers":[1,70000]}]}"#,
                "in.txt: offset 86: blocks[0].registers[1]: 70000 is not a 16-bit register value"
            ),
            (
                #"{"format":"sunspec-gateway/registers","version":1,"blocks":[{"start":65535,"registers":[1,2]}]}"#,
                "in.txt: blocks[0]: start 65535 with 2 registers is outside 0...65535"
            ),
            (
                #"{"format":"sunspec-gateway/registers","version":1,"blocks":[{"start":"x","registers":[]}]}"#,
                "in.txt: offset 69: blocks[0].start: expected an integer"
            ),
            (#"{"format":"sunspec-gateway/registers","version":1}"#, "in.txt: missing key 'blocks'"),
            ("[40001]: \t21365\n[40002]: \tbanana\n", "in.txt:2: 'banana' is not a 16-bit register value"),
            ("[0]: \t1\n", "in.txt:1: reference 0 is outside the 1-based register range"),
            ("address,value\n40000,1\nx,2\n", "in.txt:3: address 'x' is not a number"),
            ("40000,99999\n", "in.txt:1: '99999' is not a 16-bit register value"),
            ("40000\n", "in.txt:1: expected 'address,value'"),
            ("", "in.txt: no 'address,value' lines"),
            (
                #"{"name":"x","models":[{"ID":802,"L":62,"SoC":"high"}]}"#,
                "in.txt: models[0]: model 802: point SoC: string(\"high\") is not a valid uint16"
            ),
            (#"{"name":"x","models":[{"L":62}]}"#, "in.txt: models[0]: missing or invalid 'ID'"),
            (
                #"{"name":"x","models":[{"ID":1,"Mn":"a"},{"ID":65535,"L":0},{"ID":802,"L":62}]}"#,
                "in.txt: models[2]: comes after the end marker (models[1]), where the chain ends"
            ),
            (#"{"name":"x","models":[{"ID":65535,"L":4}]}"#, "in.txt: models[0]: the end marker (ID 65535) has 'L' 4, not 0"),
            (#"{"name":"x","models":3}"#, "in.txt: not a pysunspec2 device"),
            (#"{"name":"x"}"#, "in.txt: missing key 'format'"),
        ])
    func badInput(text: String, expected: String) {
        let found = errors(text)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix(expected) == true, "\(found)")
    }

    @Test(
        "capture times become UTC RFC 3339 with milliseconds",
        arguments: [
            ("2026-11-29T05:40:00.123Z", "2026-11-29T05:40:00.123Z"), ("2026-11-29T05:40:00Z", "2026-11-29T05:40:00.000Z"),
            ("2026-11-29T06:40:00.5+01:00", "2026-11-29T05:40:00.500Z"), ("2026-11-29 05:40:00Z", "2026-11-29T05:40:00.000Z"),
        ])
    func timestamps(text: String, expected: String) throws {
        let json = #"{"format":"sunspec-gateway/registers","version":1,"captured":"\#(text)","blocks":[]}"#
        #expect(captures(Array(json.utf8)).first?.captured == expected)
        #expect(
            errors(#"{"format":"sunspec-gateway/registers","version":1,"captured":"yesterday","blocks":[]}"#)
                == ["in.txt: captured: 'yesterday' is not an RFC 3339 date-time"])
    }

    @Test("a bad line in a .jsonl is reported with its line; the other lines still decode")
    func jsonlBadLine() {
        let good = #"{"format":"sunspec-gateway/registers","version":1,"blocks":[{"start":0,"registers":[21365,28243,65535,0]}]}"#
        let text = [good, #"{"format":"sunspec-gateway/registers","version":1,"blocks":[{"start":0,"registers":[1,x]}]}"#, "", good].joined(
            separator: "\n")
        var seen: [String] = []
        let errors = CaptureReader.read(Array(text.utf8), name: "h.jsonl") { seen.append($0.location) }
        #expect(seen == ["h.jsonl:1", "h.jsonl:4"])
        #expect(errors.map(\.location) == ["h.jsonl:2"])
    }

    @Test("arbitrary bytes never crash a reader", arguments: CaptureFormat.allCases)
    func garbage(format: CaptureFormat) {
        var rng = SystemRandomNumberGenerator()
        for length in [0, 1, 7, 100, 1000] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = CaptureReader.read(bytes, name: "g", options: CaptureOptions(format: format)) { capture in
                _ = try? DeviceDecoder.decode(capture.image)
            }
        }
    }
}
