import Testing

@testable import SunSpec

@Suite("The model length L rules over the definition")
struct LengthRuleTests {
    static func modules(_ n: Int) -> RawValue {
        .array((0..<n).map { i in .object(["ModNCell": .int(16), "ModSoC": .int(Int64(600 + i))]) })
    }

    @Test("repeating groups take their count from the count point")
    func countPoint() throws {
        let regs = try registers(804, ["NMod": .int(3), "SoC_SF": .int(-1), "lithium_ion_string_module": Self.modules(3)])
        #expect(regs[1] == 46 + 3 * 16)
        let model = try decode(804, regs)
        #expect(model.values?.groups[0].count == 3)
        #expect(model.errors.isEmpty)
    }

    @Test("an 804 whose NMod says 8 with room for 6 gives 6 modules, and says so")
    func countDisagreesWithLength() throws {
        var regs = try registers(804, ["NMod": .int(8), "SoC_SF": .int(-1), "lithium_ion_string_module": Self.modules(8)])
        regs = Array(regs.prefix(2 + 46 + 6 * 16))
        regs[1] = UInt16(46 + 6 * 16)
        let model = try decode(804, regs)
        #expect(model.values?.groups[0].count == 6)
        #expect(model.errors == ["group 'lithium_ion_string_module': count is 8 but L leaves room for 6; decoded 6"])
    }

    @Test("a window shorter than L is never read past")
    func neverPastWindow() throws {
        let regs = try registers(804, ["NMod": .int(8), "lithium_ion_string_module": Self.modules(8)])
        let model = try #require(ModelCatalog.builtin.definition(for: 804))
        // L claims the full length but only 100 registers were captured.
        let decoded = ModelDecoder.decode(model, window: RegisterWindow(Array(regs.prefix(100))), length: Int(regs[1]))
        #expect((decoded.values?.groups[0].count ?? 0) <= 8)
        #expect(!decoded.errors.isEmpty)
    }

    @Test("L longer than defined: the defined part is decoded, the rest noted")
    func longer() throws {
        var regs = try registers(802, ["SoC": .int(500), "SoC_SF": .int(-1)])
        regs += [1, 2, 3]
        regs[1] += 3
        let model = try decode(802, regs)
        #expect(model[point: "SoC"] == .decimal(ExactDecimal(500, exponent: -1)))
        #expect(model.errors == ["L=65 is longer than the 62 registers the definition lays out; the 3 after them are ignored"])
    }

    @Test("L shorter than defined: what fits is decoded, the rest is null")
    func shorter() throws {
        var regs = try registers(1, ["Mn": .string("SolarEdge"), "DA": .int(1)])
        regs = Array(regs.prefix(2 + 64))  // model 1 of 64 registers: DA and Pad missing
        regs[1] = 64
        let model = try decode(1, regs)
        #expect(model[point: "Mn"] == .string("SolarEdge"))
        #expect(model[point: "DA"] == .null)
        #expect(model.errors.count == 1)
        #expect(model.errors[0].hasPrefix("L=64 is shorter than the 66 registers"))
    }

    @Test("count 0 derives the repeats from L")
    func countFromLength() throws {
        // 805: lithium-ion module, cells repeat to fill L (count 0).
        let model = try #require(ModelCatalog.builtin.definition(for: 805))
        let cells = try #require(model.group.groups.first)
        #expect(cells.count == .fromLength)
        var regs = try registers(805, [:])
        let fixed = regs.count
        regs += [UInt16](repeating: 0xFFFF, count: 5 * cells.pointsLength)
        regs[1] = UInt16(regs.count - 2)
        let decoded = ModelDecoder.decode(model, window: RegisterWindow(regs), length: Int(regs[1]))
        #expect(decoded.values?.groups[0].count == 5)
        #expect(decoded.errors.isEmpty)
        #expect(fixed == model.fixedLength)
    }

    @Test("nested repeating groups: 705 curves of points")
    func nested() throws {
        func curve(_ c: Int) -> RawValue {
            .object([
                "ActPt": .int(3),
                "Pt": .array((0..<3).map { p in .object(["V": .int(Int64(9000 + 100 * c + p)), "Var": .int(Int64(-p))]) }),
            ])
        }
        let regs = try registers(
            705, ["NPt": .int(3), "NCrv": .int(2), "V_SF": .int(-2), "DeptRef_SF": .int(0), "Crv": .array([curve(0), curve(1)])])
        let model = try decode(705, regs)
        #expect(model.errors.isEmpty)
        let curves = try #require(model.values?.groups[0])
        #expect(curves.count == 2)
        #expect(curves[1].groups[0].count == 3)
        let line = readingLine(model)
        #expect(line.contains(#""Pt":[{"V":91,"Var":0},{"V":91.01,"Var":-1},{"V":91.02,"Var":-2}]"#), "\(line)")
    }

    @Test("a count point that is not implemented gives no repeats and an error")
    func countNotImplemented() throws {
        var regs = try registers(804, ["NMod": .int(1), "lithium_ion_string_module": Self.modules(1)])
        regs[3] = 0xFFFF  // NMod
        let model = try decode(804, regs)
        #expect(model.values?.groups[0].isEmpty == true)
        #expect(model.errors.contains { $0.contains("NMod is not implemented") })
    }

    @Test("registers missing from a capture make the points that use them null")
    func holes() throws {
        let regs = try registers(802, ["SoC": .int(500), "SoC_SF": .int(-1), "SoH": .int(99)])
        let model = try #require(ModelCatalog.builtin.definition(for: 802))
        let soc = try #require(model.group.pointIndex(named: "SoC"))
        var missing = [Bool](repeating: false, count: regs.count)
        missing[model.group.pointOffsets[soc]] = true
        let decoded = ModelDecoder.decode(model, window: RegisterWindow(values: regs, missing: missing), length: Int(regs[1]))
        #expect(decoded[point: "SoC"] == .null)
        #expect(decoded.errors == ["1 registers were not captured; 1 points that use them are null"])
    }

    // MARK: - Repeats that do not fit L

    /// A Solren PVI85's model 402: L=124, the fixed part of 20 registers, then 8 strings of 13
    /// registers each (an early draft; the definition's string is 14).
    static func solren402() throws -> [UInt16] {
        var regs = try registers(402, ["DCA_SF": .int(-1), "DCV_SF": .int(-1), "DCA": .int(1234), "N": .int(8)])
        #expect(regs.count == 2 + 20)
        for s in 0..<8 {
            // InID, InEvt (2), InDCA, InDCAhr (2), InDCV, InDCW, InDCWh (2), InDCPR, InN, then one more (13)
            regs += [UInt16(s + 1), 0, 0, 52, 0, 10, 4080, 212, 0, 300, 97, 1, 0]
        }
        regs[1] = UInt16(regs.count - 2)
        #expect(regs[1] == 124)
        return regs
    }

    @Test("402 with 8 strings of 13 registers in L=124: the fixed points, no strings, and why")
    func repeatsDoNotFitLength() throws {
        let model = try decode(402, Self.solren402())
        #expect(model[point: "DCA"] == .decimal(ExactDecimal(1234, exponent: -1)))
        #expect(model[point: "N"] == .uint(8))
        #expect(model.values?.groups[0].isEmpty == true)
        #expect(
            model.errors == [
                "group 'string': the 104 registers L=124 leaves for it are not a whole number of 14-register repeats (7 and 6 left over); no repeats decoded"
            ])
        let line = readingLine(model)
        #expect(line.contains(#""string":[]"#), "\(line)")
        #expect(!line.contains("InID"), "\(line)")
    }

    @Test("402 whose strings fill L exactly: every string decoded")
    func repeatsFitLength() throws {
        var strings: [RawValue] = []
        for s in 0..<8 { strings.append(.object(["InID": .int(Int64(s + 1)), "InDCA": .int(52)])) }
        let regs = try registers(402, ["DCA_SF": .int(-1), "N": .int(8), "string": .array(strings)])
        #expect(regs[1] == 20 + 8 * 14)
        let model = try decode(402, regs)
        #expect(model.errors.isEmpty)
        let decoded = try #require(model.values?.groups[0])
        #expect(decoded.count == 8)
        #expect(model.value(decoded[7], 0) == .uint(8))  // InID of the last string
    }

    @Test("a count point that L cuts short mid-repeat: no repeats decoded")
    func countCutMidRepeat() throws {
        var regs = try registers(804, ["NMod": .int(8), "SoC_SF": .int(-1), "lithium_ion_string_module": Self.modules(8)])
        regs = Array(regs.prefix(2 + 46 + 6 * 16 + 5))
        regs[1] = UInt16(46 + 6 * 16 + 5)
        let model = try decode(804, regs)
        #expect(model.values?.groups[0].isEmpty == true)
        #expect(
            model.errors == [
                "group 'lithium_ion_string_module': count is 8 but the 101 registers L=147 leaves for it are not a whole number of 16-register repeats (6 and 5 left over); no repeats decoded"
            ])
    }

    /// A vendor model: fixed N, a repeating `unit` (count 0) whose repeats hold their own count `NCh`
    /// and `NCh` channels of two registers each (a nested count-0 group instead when `nestedFill`),
    /// and a single group laid out after the repeats when `trailer`.
    static func nestedModel(nestedFill: Bool = false, trailer: Bool = false) throws -> ModelDefinition {
        let channel =
            nestedFill
            ? #"{"name":"ch","type":"group","count":0,"points":[{"name":"ChA","type":"uint16","size":1},{"name":"ChV","type":"uint16","size":1}]}"#
            : #"{"name":"ch","type":"group","count":"NCh","points":[{"name":"ChA","type":"uint16","size":1},{"name":"ChV","type":"uint16","size":1}]}"#
        let unit =
            #"{"name":"unit","type":"group","count":0,"points":[{"name":"UnitID","type":"uint16","size":1},{"name":"NCh","type":"count","size":1}],"groups":["#
            + channel + "]}"
        let tail = trailer ? #",{"name":"tail","type":"group","points":[{"name":"Tail","type":"uint16","size":1}]}"# : ""
        let json =
            #"{"id":64999,"group":{"name":"vendor","type":"group","points":[{"name":"ID","type":"uint16","size":1},{"name":"L","type":"uint16","size":1},{"name":"Fixed","type":"uint16","size":1}],"groups":["#
            + unit + tail + "]}}"
        return try ModelDefinition(json: Array(json.utf8))
    }

    static func decodeNested(_ definition: ModelDefinition, _ body: [UInt16]) -> DecodedModel {
        let regs: [UInt16] = [64999, UInt16(body.count)] + body
        return ModelDecoder.decode(definition, window: RegisterWindow(regs), length: body.count)
    }

    @Test("repeats of different sizes (a count inside each) that fill L: all decoded")
    func variableRepeatsFit() throws {
        let model = Self.decodeNested(try Self.nestedModel(), [7, 1, 2, 10, 11, 20, 21, 2, 0, 3, 1, 30, 31])
        #expect(model.errors.isEmpty)
        let units = try #require(model.values?.groups[0])
        #expect(units.count == 3)
        #expect(units.map { $0.groups[0].count } == [2, 0, 1])
        let line = readingLine(model)
        #expect(
            line.contains(#""unit":[{"UnitID":1,"NCh":2,"ch":[{"ChA":10,"ChV":11},{"ChA":20,"ChV":21}]},{"UnitID":2,"NCh":0,"ch":[]},"#))
    }

    @Test("repeats of different sizes that do not fill L: none decoded")
    func variableRepeatsDoNotFit() throws {
        let model = Self.decodeNested(try Self.nestedModel(), [7, 1, 2, 10, 11, 20, 21, 2, 0, 3, 1, 30])
        #expect(model[point: "Fixed"] == .uint(7))
        #expect(model.values?.groups[0].isEmpty == true)
        #expect(
            model.errors == [
                "group 'unit': the 11 registers L=12 leaves for it are not a whole number of its repeats (2 and 3 left over); no repeats decoded"
            ])
    }

    @Test("a count-0 group inside a repeating group cannot take its count from L")
    func nestedFillFromLength() throws {
        let model = Self.decodeNested(try Self.nestedModel(nestedFill: true), [7, 1, 2, 10, 11, 20, 21])
        #expect(model[point: "Fixed"] == .uint(7))
        #expect(model.values?.groups[0].isEmpty == true)
        #expect(
            model.errors == [
                "group 'unit': the size of repeat 1 cannot be worked out (a count in it is not implemented or fills L); no repeats decoded"
            ])
    }

    @Test("a count-0 group with more of the model after it: no repeats, and what follows is null")
    func fillFromLengthNotLast() throws {
        let model = Self.decodeNested(try Self.nestedModel(trailer: true), [7, 1, 0, 9])
        #expect(model.values?.groups[0].isEmpty == true)
        let line = readingLine(model)
        #expect(line.contains(#""unit":[],"tail":{"Tail":null}"#), "\(line)")
        #expect(
            model.errors == [
                "group 'unit': its repeats fill L (count 0) but more of the model is laid out after them; no repeats decoded"
            ])
    }

    @Test("a count point not implemented: what is laid out after its group is null")
    func countNotImplementedThenNull() throws {
        // 705: Crv repeats (NCrv) of Pt repeats (NPt); NPt not implemented leaves no Crv placeable.
        var regs = try registers(705, ["NPt": .int(1), "NCrv": .int(2), "V_SF": .int(0), "DeptRef_SF": .int(0)])
        let definition = try #require(ModelCatalog.builtin.definition(for: 705))
        let npt = try #require(definition.group.pointIndex(named: "NPt"))
        regs[definition.group.pointOffsets[npt]] = 0xFFFF
        let model = try decode(705, regs)
        #expect(model.values?.groups[0].isEmpty == true)
        #expect(
            model.errors == [
                "group 'Crv': the size of repeat 1 cannot be worked out (a count in it is not implemented or fills L); no repeats decoded"
            ])
    }
}
