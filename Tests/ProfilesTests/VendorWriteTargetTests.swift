import Foundation
import Profiles
import SunSpec
import Testing

/// Writes through a profile's inverse transform, checked against registers worked out by hand.
@Suite struct VendorWriteTargetTests {
    static let yaml = profileYAML(
        """
          124:
            WChaMax: {address: 200, type: u32, word_order: low_first, sentinels: [0xFFFFFFFF]}
            WChaGra: {address: 202, type: u16, scale: 0.5}
            WDisChaGra: {address: 203, type: s16, scale: 0.1, offset: -10}
            StorCtl_Mod: {address: 204, type: u16, map: {0: 0, 5: 1, 7: 2}}
            OutWRte: {address: 205, type: s16, scale: 0.01, invert: true, function: input}
            InWRte: {address: 206, type: f32}
            ChaGriSet: {address: 208, type: u16, map: {0: 0, 1: 1, 2: 1}}
        """)

    static func target(_ path: String) throws -> (VendorWriteTarget, PointDefinition) {
        let profile = try Profile.parse(yaml, file: "p.yaml")
        let p = try PointPath(parsing: path)
        let model = try #require(profile.models.first { $0.definition.id == p.model })
        return (try profile.writeTarget(for: p), try model.definition.point(at: p))
    }

    static func number(_ text: String) -> SetpointValue { .number(ExactDecimal(parsing: text)!) }

    static let encodeCases: [(String, String, Int, [UInt16])] = [
        ("124.WChaMax", "5000", 200, [5000, 0]),  // low word first
        ("124.WChaMax", "70000", 200, [4464, 1]),
        ("124.WChaGra", "12.5", 202, [25]),
        ("124.WDisChaGra", "-5.5", 203, [45]),  // (-5.5 - -10) / 0.1
        ("124.WDisChaGra", "-12", 203, [UInt16(bitPattern: -20)]),
        ("802.WChaRteMax", "5000", 102, [500]),
        ("802.W", "-1000", 111, [0, 1000]),  // inverted
        ("802.W", "1000", 111, [0xFFFF, UInt16(bitPattern: -1000)]),
    ]

    @Test(arguments: encodeCases)
    func encodes(path: String, value: String, address: Int, expected: [UInt16]) throws {
        let (target, point) = try Self.target(path)
        #expect(target.address == address)
        #expect(target.size == expected.count)
        #expect(try target.encode(Self.number(value), point: point) == expected)
        #expect(target.decode(expected) == Self.number(value))
    }

    @Test func maps() throws {
        let (target, point) = try Self.target("124.StorCtl_Mod")
        #expect(try target.encode(.symbol("CHARGE"), point: point) == [5])
        #expect(try target.encode(.symbol("DiSCHARGE"), point: point) == [7])
        #expect(try target.encode(Self.number("0"), point: point) == [0])
        #expect(throws: SetpointError.self) { try target.encode(Self.number("3"), point: point) }
        #expect(target.decode([7]) == Self.number("2"))
    }

    static let refuseCases: [(String, String, String)] = [
        ("124.WChaMax", "4294967295", "SetpointError.outOfRange"),  // the sentinel
        ("124.WChaMax", "-1", "SetpointError.outOfRange"),
        ("124.WChaGra", "12.25", "SetpointError.notRepresentable"),
        ("124.WDisChaGra", "-5.55", "SetpointError.notRepresentable"),
        ("802.WChaRteMax", "5005", "SetpointError.notRepresentable"),
        ("802.WChaRteMax", "655360", "SetpointError.outOfRange"),
    ]

    @Test(arguments: refuseCases)
    func refusesValues(path: String, value: String, kind: String) throws {
        let (target, point) = try Self.target(path)
        let error = #expect(throws: SetpointError.self) { try target.encode(Self.number(value), point: point) }
        #expect(error.map { "\($0)".isEmpty } == false)
        switch error {
        case .outOfRange?: #expect(kind == "SetpointError.outOfRange")
        case .notRepresentable?: #expect(kind == "SetpointError.notRepresentable")
        default: Issue.record("\(String(describing: error))")
        }
    }

    static let sourceCases: [(String, String)] = [
        ("124.OutWRte", "124.OutWRte comes from input register 205 (function 4), which cannot be written"),
        ("124.InWRte", "124.InWRte comes from a f32 register; only u16, s16, u32 and s32 are written"),
        ("124.ChaGriSet", "124.ChaGriSet: its map sends vendor values 1 and 2 to 1, so it cannot be inverted"),
        ("802.ChaSt", "802.ChaSt is derived from the sign or bits of register 111; it cannot be written"),
        ("802.Evt1", "802.Evt1: profile test-battery builds this point from bits of registers; it cannot be written"),
        ("802.Typ", "802.Typ: profile test-battery gives this point as a constant, not a register"),
        ("802.SetOp", "802.SetOp: profile test-battery does not map this point from a register"),
        ("802.SocRsvMax", "802.SocRsvMax: profile test-battery does not map this point from a register"),
        ("704.WSet", "704.WSet: profile test-battery maps no model 704 (it maps 802, 124)"),
        ("802[1].W", "802[1].W: profile test-battery maps one instance of model 802"),
    ]

    @Test(arguments: sourceCases)
    func refusesSources(path: String, message: String) throws {
        let profile = try Profile.parse(Self.yaml, file: "p.yaml")
        let error = #expect(throws: ControlPathError.self) { try profile.writeTarget(for: PointPath(parsing: path)) }
        #expect(error?.message == message)
    }

    @Test func shippedHuaweiTargets() throws {
        let profile = try Profile.load(path: repository.appendingPathComponent("Profiles/huawei-luna2000.yaml").path)
        let target = try profile.writeTarget(for: PointPath(parsing: "124.WChaMax"))
        let point = try #require(ModelCatalog.builtin.definition(for: 124)).point(at: PointPath(parsing: "124.WChaMax"))
        #expect(target.address == 47075)
        #expect(try target.encode(.number(ExactDecimal(2500, exponent: 0)), point: point) == [0, 2500])
    }
}
