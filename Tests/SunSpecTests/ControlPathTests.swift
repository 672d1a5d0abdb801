import Testing

@testable import SunSpec

@Suite struct ControlPathTests {
    static let parseCases: [(String, Int, Int, [PointPath.GroupStep], String, String)] = [
        ("124.WChaMax", 124, 0, [], "WChaMax", "124.WChaMax"),
        ("124[1].WChaMax", 124, 1, [], "WChaMax", "124[1].WChaMax"),
        ("124[0].WChaMax", 124, 0, [], "WChaMax", "124.WChaMax"),
        ("803.string[1].StrSetEna", 803, 0, [.init(name: "string", index: 1)], "StrSetEna", "803.string[1].StrSetEna"),
        ("803[2].string.StrSetEna", 803, 2, [.init(name: "string", index: 0)], "StrSetEna", "803[2].string.StrSetEna"),
    ]

    @Test(arguments: parseCases)
    func parses(text: String, model: Int, instance: Int, groups: [PointPath.GroupStep], point: String, canonical: String) throws {
        let path = try PointPath(parsing: text)
        #expect(path.model == model)
        #expect(path.instance == instance)
        #expect(path.groups == groups)
        #expect(path.point == point)
        #expect(path.description == canonical)
        #expect(try PointPath(parsing: canonical) == path)
    }

    static let refuseCases: [(String, String)] = [
        ("WChaMax", "'WChaMax' is not MODEL.POINT (124.WChaMax, 803.string[1].StrSetEna)"),
        ("x.WChaMax", "'x.WChaMax': 'x' is not a model id (1...65534)"),
        ("0.WChaMax", "'0.WChaMax': '0' is not a model id (1...65534)"),
        ("124[-1].WChaMax", "'124[-1].WChaMax': the index in '124[-1]' is not an integer from 0 to 65535"),
        ("124[1.WChaMax", "'124[1.WChaMax': '124[1' is not NAME[INDEX]"),
        ("124.WChaMax[1]", "'124.WChaMax[1]': the point 'WChaMax[1]' cannot take an index"),
        ("124..WChaMax", "'124..WChaMax': '' is not a SunSpec name (letters, digits, _)"),
        ("124.W Cha", "'124.W Cha': 'W Cha' is not a SunSpec name (letters, digits, _)"),
    ]

    @Test(arguments: refuseCases)
    func refuses(text: String, message: String) {
        let error = #expect(throws: ControlPathError.self) { try PointPath(parsing: text) }
        #expect(error?.message == message)
    }

    @Test func findsPoints() throws {
        let m124 = try #require(ModelCatalog.builtin.definition(for: 124))
        let w = try m124.point(at: PointPath(parsing: "124.WChaMax"))
        #expect(w.name == "WChaMax" && w.type == .uint16 && w.access == .readWrite)
        let m803 = try #require(ModelCatalog.builtin.definition(for: 803))
        let ena = try m803.point(at: PointPath(parsing: "803.string[5].StrSetEna"))
        #expect(ena.name == "StrSetEna" && ena.type == .enum16)
    }

    static let pointCases: [(String, String)] = [
        ("124.Nope", "124.Nope: 124 (storage_basic) has no point Nope"),
        ("803.StrSetEna", "803.StrSetEna: 803 (lithium_ion_bank) has no point StrSetEna (it is 803.string.StrSetEna)"),
        ("803.string", "803.string: string is a group of 803, not a point"),
        ("803.NStr.StrSetEna", "803.NStr.StrSetEna: NStr is a point of 803, not a group"),
        ("803.strings[1].StrSetEna", "803.strings[1].StrSetEna: 803 (lithium_ion_bank) has no group strings (groups: string)"),
    ]

    @Test(arguments: pointCases)
    func refusesPoints(text: String, message: String) throws {
        let path = try PointPath(parsing: text)
        let model = try #require(ModelCatalog.builtin.definition(for: path.model))
        let error = #expect(throws: ControlPathError.self) { try model.point(at: path) }
        #expect(error?.message == message)
    }

    @Test func refusesIndexesPastFixedCounts() throws {
        let fixed = try ModelDefinition(
            id: 64000,
            group: GroupDefinition(
                name: "m", label: nil, count: nil,
                points: [PointDefinition(name: "ID", type: .uint16, size: 1), PointDefinition(name: "L", type: .uint16, size: 1)],
                groups: [
                    GroupDefinition(
                        name: "g", label: nil, count: .fixed(2),
                        points: [PointDefinition(name: "P", type: .uint16, size: 1, access: .readWrite)],
                        groups: []),
                    GroupDefinition(
                        name: "one", label: nil, count: nil, points: [PointDefinition(name: "Q", type: .uint16, size: 1)], groups: []),
                ]))
        #expect(try fixed.point(at: PointPath(parsing: "64000.g[1].P")).name == "P")
        let past = #expect(throws: ControlPathError.self) { try fixed.point(at: PointPath(parsing: "64000.g[2].P")) }
        #expect(past?.message == "64000.g[2].P: group g repeats 2 times (indexes 0...1)")
        let single = #expect(throws: ControlPathError.self) { try fixed.point(at: PointPath(parsing: "64000.one[1].Q")) }
        #expect(single?.message == "64000.one[1].Q: group one does not repeat, so it takes no index")
    }
}
