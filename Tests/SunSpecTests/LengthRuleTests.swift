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
}
