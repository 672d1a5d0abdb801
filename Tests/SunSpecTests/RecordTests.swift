import Testing

@testable import SunSpec

@Suite("Reading and meta records")
struct RecordTests {
    @Test("a reading record has the documented shape")
    func readingShape() throws {
        let regs = try registers(
            713,
            [
                "WHRtg": .int(100), "WHAvail": .int(675), "SoC": .int(675), "SoH": .int(98), "Sta": .int(1),
                "WH_SF": .int(3), "Pct_SF": .int(-1),
            ])
        let device = try DeviceDecoder.decode(image([regs]))
        var buffer = JSONBuffer()
        ReadingRecord.append(device.models[0], device: "bess-1", timestamp: "2026-11-29T05:40:00.123Z", to: &buffer)
        let line = String(decoding: buffer.bytes, as: UTF8.self)
        #expect(
            line
                == #"{"type":"reading","device":"bess-1","ts":"2026-11-29T05:40:00.123Z","model":713,"name":"DERStorageCapacity","index":0,"addr":40002,"len":7,"values":{"WHRtg":100000,"WHAvail":675000,"SoC":67.5,"SoH":9.8,"Sta":1}}"#
                + "\n")
    }

    /// The buffer is `~Copyable`: a copy that could write into the original's memory does not
    /// compile, so only its growing and reuse are left to test.
    @Test("the buffer keeps its bytes when it grows, and is reused after removeAll")
    func bufferGrowsAndIsReused() {
        var buffer = JSONBuffer(capacity: 1)
        var expected: [UInt8] = []
        for i in 0..<500 {
            buffer.int(Int64(i) - 250)
            buffer.byte(UInt8(ascii: ","))
            expected += Array("\(i - 250),".utf8)
        }
        #expect(buffer.bytes == expected)
        #expect(buffer.withBytes { Array($0) } == expected)
        buffer.removeAll()
        buffer.string("a\"b")
        #expect(buffer.count == 6)
        #expect(String(decoding: buffer.bytes, as: UTF8.self) == #""a\"b""#)
    }

    @Test("strings are escaped as JSON")
    func escaping() throws {
        let regs = try registers(1, ["Mn": .string("A\"B\\C\u{1}")])
        let line = readingLine(try decode(1, regs))
        #expect(line.contains(#""Mn":"A\"B\\C\u0001""#))
    }

    @Test("a meta record gives type, units, access, label and symbols, nested like values")
    func meta() throws {
        let device = try DeviceDecoder.decode(image([try registers(804, ["NMod": .int(0)])]))
        var buffer = JSONBuffer()
        MetaRecord.append(device.models[0], device: "d", to: &buffer)
        let line = String(decoding: buffer.bytes, as: UTF8.self)
        #expect(
            line.hasPrefix(
                #"{"type":"meta","device":"d","model":804,"name":"lithium_ion_string","index":0,"addr":40002,"label":"Lithium-Ion String Model","points":{"Idx":{"type":"uint16","units":null,"access":"R","label":"String Index"}"#
            ), "\(line)")
        #expect(
            line.contains(
                #""ConFail":{"type":"enum16","units":null,"access":"R","label":"Connection Failure Reason","symbols":{"0":"NO_FAILURE","1":"BUTTON_PUSHED""#
            ), "\(line)")
        #expect(line.contains(#""lithium_ion_string_module":{"ModNCell":{"#))
        #expect(!line.contains("SoC_SF"))
    }

    @Test("float values are written in their shortest form; infinities as null")
    func floats() {
        #expect(json(.float32(1.1)) == "1.1")
        #expect(json(.float32(-0.5)) == "-0.5")
        #expect(json(.float32(.infinity)) == "null")
        #expect(json(.float64(2.5e-7)) == "2.5e-07")
        #expect(json(.uint(UInt64.max - 1)) == "18446744073709551614")
        #expect(json(.int(Int64.min)) == "-9223372036854775808")
    }
}
