import Testing

@testable import SunSpec

@Suite("Scale factors and exact decimals")
struct ScaleFactorTests {
    @Test(
        "exact decimal text",
        arguments: [
            (Int64(553), -1, "55.3"), (553, 0, "553"), (553, 2, "55300"), (-5, -3, "-0.005"), (500, -3, "0.5"),
            (5000, -2, "50"), (10, -3, "0.01"), (0, -2, "0"), (-32767, -10, "-0.0000032767"), (12345, -2, "123.45"),
            (Int64.min + 1, 0, "-9223372036854775807"),
        ])
    func decimalText(raw: Int64, exponent: Int, text: String) {
        #expect(ExactDecimal(raw, exponent: exponent).description == text)
    }

    @Test("raw 553 with sf -1 is written 55.3, never 55.300000000000004")
    func exactInRecord() throws {
        // 802: SoC (uint16, SoC_SF).
        let regs = try registers(802, ["SoC": .int(553), "SoC_SF": .int(-1)])
        let model = try decode(802, regs)
        #expect(model[point: "SoC"] == .decimal(ExactDecimal(553, exponent: -1)))
        #expect(readingLine(model).contains("\"SoC\":55.3,"))
    }

    @Test("a scale factor not implemented, or outside -10...10, makes the values null", arguments: [Int64(-32768), 11, -11, 100])
    func badScaleFactor(sf: Int64) throws {
        let regs = try registers(802, ["SoC": .int(553), "SoC_SF": sf == -32768 ? .null : .int(sf)])
        let model = try decode(802, regs)
        #expect(model[point: "SoC"] == .null)
    }

    @Test("the edges of the range still scale", arguments: [Int64(-10), 10])
    func edgeScaleFactor(sf: Int64) throws {
        let regs = try registers(802, ["SoC": .int(7), "SoC_SF": .int(sf)])
        #expect(try decode(802, regs)[point: "SoC"] == .decimal(ExactDecimal(7, exponent: Int(sf))))
    }

    @Test("a module point uses the top-level scale factor it names")
    func nestedScaleFactor() throws {
        let module: RawValue = .object(["ModNCell": .int(16), "ModSoC": .int(875), "ModCellVMax": .int(3345)])
        let regs = try registers(
            804,
            [
                "NMod": .int(1), "SoC_SF": .int(-1), "CellV_SF": .int(-3), "lithium_ion_string_module": .array([module]),
            ])
        let model = try decode(804, regs)
        let line = readingLine(model)
        #expect(line.contains("\"ModSoC\":87.5"))
        #expect(line.contains("\"ModCellVMax\":3.345"))
    }

    @Test("a scale factor resolves in the point's own group before the enclosing ones")
    func ownGroupFirst() throws {
        // A made-up model: X_SF exists at the top level and in the group; the group's wins there.
        let json = #"""
            {"id":64900,"group":{"name":"m","type":"group","points":[
              {"name":"ID","type":"uint16","size":1},{"name":"L","type":"uint16","size":1},
              {"name":"T","type":"int16","size":1,"sf":"X_SF"},{"name":"X_SF","type":"sunssf","size":1}],
             "groups":[{"name":"g","type":"group","points":[
              {"name":"G","type":"int16","size":1,"sf":"X_SF"},{"name":"X_SF","type":"sunssf","size":1}]},
              {"name":"h","type":"group","points":[{"name":"H","type":"int16","size":1,"sf":"X_SF"}]}]}}
            """#
        let model = try ModelDefinition(json: json.utf8)
        let decoded = ModelDecoder.decode(model, window: RegisterWindow([64900, 5, 123, 0xFFFF, 456, 0xFFFE, 789]), length: 5)
        let line = readingLine(decoded)
        #expect(line.contains(#""values":{"T":12.3,"g":{"G":4.56},"h":{"H":78.9}}"#), "\(line)")
    }

    @Test("a constant scale factor applies as given")
    func constantScaleFactor() throws {
        let json = #"""
            {"id":64901,"group":{"name":"m","type":"group","points":[
              {"name":"ID","type":"uint16","size":1},{"name":"L","type":"uint16","size":1},
              {"name":"T","type":"int16","size":1,"sf":-2},{"name":"U","type":"uint32","size":2,"sf":3}]}}
            """#
        let model = try ModelDefinition(json: json.utf8)
        let decoded = ModelDecoder.decode(model, window: RegisterWindow([64901, 3, 0xFF38, 0, 42]), length: 3)
        #expect(readingLine(decoded).contains(#""values":{"T":-2,"U":42000}"#))
    }
}
