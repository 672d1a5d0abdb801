import Testing

@testable import SunSpec

/// Offsets worked out by hand from the model JSON (model 124: 24 registers after ID and L; 803:
/// 26 after them, then 32 per string, NStr at offset 2).
@Suite struct ControlLayoutTests {
    @Test func topLevelPoints() throws {
        let model = try #require(ModelCatalog.builtin.definition(for: 124))
        let regs = try registers(124, ["WChaMax": .int(2500), "WChaMax_SF": .int(1)]).map { Optional($0) }
        #expect(regs.count == 26)
        #expect(
            ControlLayout.locate(try PointPath(parsing: "124.WChaMax"), in: model, registers: regs)
                == PointLocation(offset: 2, size: 1, scale: .register(offset: 18)))
        #expect(
            ControlLayout.locate(try PointPath(parsing: "124.OutWRte"), in: model, registers: regs)
                == PointLocation(offset: 12, size: 1, scale: .register(offset: 25)))
        #expect(
            ControlLayout.locate(try PointPath(parsing: "124.StorCtl_Mod"), in: model, registers: regs)
                == PointLocation(offset: 5, size: 1, scale: .none))
        // L shorter than the point: not there.
        var short = regs
        short[1] = 3
        #expect(ControlLayout.locate(try PointPath(parsing: "124.OutWRte"), in: model, registers: short) == nil)
        #expect(ControlLayout.locate(try PointPath(parsing: "124.WChaMax"), in: model, registers: short) != nil)
    }

    @Test func repeatsCountedFromRegisters() throws {
        let model = try #require(ModelCatalog.builtin.definition(for: 803))
        let string: RawValue = .object(["StrNMod": .int(4)])
        let regs = try registers(803, ["NStr": .int(2), "string": .array([string, string])]).map { Optional($0) }
        #expect(regs.count == 28 + 64)
        #expect(
            ControlLayout.locate(try PointPath(parsing: "803.string[1].StrSetEna"), in: model, registers: regs)
                == PointLocation(offset: 28 + 32 + 28, size: 1, scale: .none))
        // StrSoC's scale factor is SoC_SF of the top level (offset 26).
        #expect(
            ControlLayout.locate(try PointPath(parsing: "803.string[0].StrSoC"), in: model, registers: regs)
                == PointLocation(offset: 28 + 4, size: 1, scale: .register(offset: 26)))
        #expect(ControlLayout.locate(try PointPath(parsing: "803.string[2].StrSetEna"), in: model, registers: regs) == nil)
        // The count not implemented, or not read: nothing can be placed.
        var unknown = regs
        unknown[2] = 0xFFFF
        #expect(ControlLayout.locate(try PointPath(parsing: "803.string[0].StrSetEna"), in: model, registers: unknown) == nil)
        unknown[2] = nil
        #expect(ControlLayout.locate(try PointPath(parsing: "803.string[0].StrSetEna"), in: model, registers: unknown) == nil)
        #expect(ControlLayout.locate(try PointPath(parsing: "803.NStrCon"), in: model, registers: unknown)?.offset == 3)
    }

    @Test func countFromLength() throws {
        let model = try ModelDefinition(
            id: 64001,
            group: GroupDefinition(
                name: "m", label: nil, count: nil,
                points: [
                    PointDefinition(name: "ID", type: .uint16, size: 1), PointDefinition(name: "L", type: .uint16, size: 1),
                    PointDefinition(name: "S", type: .sunssf, size: 1),
                ],
                groups: [
                    GroupDefinition(
                        name: "r", label: nil, count: .fromLength,
                        points: [
                            PointDefinition(name: "P", type: .int32, size: 2, scaleFactor: .point("S", reference: nil), access: .readWrite)
                        ],
                        groups: [])
                ]))
        let regs: [UInt16?] = [64001, 5, 0xFFFE, 1, 2, 3, 4]  // L = 5: S and two repeats of 2
        #expect(
            ControlLayout.locate(try PointPath(parsing: "64001.r[1].P"), in: model, registers: regs)
                == PointLocation(offset: 5, size: 2, scale: .register(offset: 2)))
        #expect(ControlLayout.locate(try PointPath(parsing: "64001.r[2].P"), in: model, registers: regs) == nil)
        // L = 4 leaves 3 registers for 2-register repeats: not whole, nothing placed.
        #expect(ControlLayout.locate(try PointPath(parsing: "64001.r[0].P"), in: model, registers: [64001, 4, 0, 1, 2, 3]) == nil)
    }
}
