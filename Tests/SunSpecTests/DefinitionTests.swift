import Foundation
import Testing

@testable import SunSpec

@Suite("Model definitions")
struct DefinitionTests {
    @Test("all 112 official models are built in and parse")
    func builtinModels() throws {
        let ids = ModelCatalog.builtin.ids
        #expect(ids.count == 112)
        for id in [1, 2, 101, 103, 124, 160, 701, 705, 713, 714, 802, 803, 804, 805, 809, 63001, 64410, 64415] {
            #expect(ids.contains(id), "model \(id)")
        }
        for id in ids {
            let model = try #require(ModelCatalog.builtin.definition(for: id))
            #expect(model.id == id)
            #expect(model.group.points.first?.name == "ID")
            #expect(model.group.points.dropFirst().first?.name == "L")
        }
    }

    @Test("fixed lengths match the standard", arguments: [(1, 66), (124, 24), (713, 7), (802, 62), (803, 26), (804, 46), (103, 50)])
    func fixedLengths(id: Int, length: Int) throws {
        let model = try #require(ModelCatalog.builtin.definition(for: id))
        #expect(model.fixedLength - 2 == length)
    }

    @Test("804 lays out its module group and resolves scale factors out to the top level")
    func layout804() throws {
        let model = try #require(ModelCatalog.builtin.definition(for: 804))
        #expect(model.name == "lithium_ion_string")
        let soc = try #require(model.group.pointIndex(named: "SoC"))
        #expect(model.group.pointOffsets[soc] == 8)
        let module = try #require(model.group.groups.first)
        #expect(module.name == "lithium_ion_string_module")
        #expect(module.count == .point("NMod"))
        #expect(module.pointsLength == 16)
        #expect(module.countReference?.levelsUp == 1)
        #expect(module.countReference?.index == model.group.pointIndex(named: "NMod"))
        #expect(module.countReference?.offset == 3)
        let modSoC = try #require(module.pointIndex(named: "ModSoC"))
        guard case .point("SoC_SF", let ref?) = module.points[modSoC].scaleFactor else {
            Issue.record("ModSoC has no resolved scale factor")
            return
        }
        #expect(ref.levelsUp == 1)
        #expect(model.group.points[ref.index].name == "SoC_SF")
    }

    @Test("nested repeating groups of 705 resolve their counts to the top level")
    func nested705() throws {
        let model = try #require(ModelCatalog.builtin.definition(for: 705))
        let curve = try #require(model.group.groups.first)
        #expect(curve.count == .point("NCrv"))
        let point = try #require(curve.groups.first)
        #expect(point.count == .point("NPt"))
        #expect(point.countReference?.levelsUp == 2)
    }

    @Test("a malformed definition names the problem")
    func malformed() {
        let cases: [(String, String)] = [
            (
                #"{"id":9000,"group":{"name":"x","type":"group","points":[{"name":"ID","type":"uint16","size":1},{"name":"L","type":"uint16","size":1},{"name":"A","type":"int99","size":1}]}}"#,
                "unknown type 'int99'"
            ),
            (
                #"{"id":9000,"group":{"name":"x","type":"group","points":[{"name":"ID","type":"uint16","size":1},{"name":"L","type":"uint16","size":1},{"name":"A","type":"int16","size":1,"sf":"Nope"}]}}"#,
                "scale factor 'Nope'"
            ),
            (
                #"{"id":9000,"group":{"name":"x","type":"group","points":[{"name":"ID","type":"uint16","size":1},{"name":"L","type":"uint16","size":1},{"name":"A","type":"int32","size":1}]}}"#,
                "size 1 does not fit type int32"
            ),
            (
                #"{"id":9000,"group":{"name":"x","type":"group","points":[{"name":"ID","type":"uint16","size":1},{"name":"L","type":"uint16","size":1},{"name":"A","type":"int16","size":1},{"name":"A","type":"int16","size":1}]}}"#,
                "defined twice"
            ),
            (#"{"id":9000}"#, "missing key 'group'"),
            (
                #"{"id":9000,"group":{"name":"x","type":"group","points":[{"name":"A","type":"int16","size":1}]}}"#,
                "the first two points must be ID and L"
            ),
            (#"{"id":9000,"group":"#, "offset 19: expected an object"),
            (
                #"{"id":9000,"group":{"name":"x","type":"group","points":[{"name":"ID","type":"uint16","size":1},{"name":"L","type":"uint16","size":1}],"groups":[{"name":"g","type":"group","count":"N","points":[]}]}}"#,
                "count point 'N'"
            ),
        ]
        for (json, expected) in cases {
            let error = #expect(throws: DefinitionError.self) {
                try ModelDefinition(json: json.utf8)
            }
            #expect(error?.message.contains(expected) == true, "\(String(describing: error)) should say \(expected)")
        }
    }
}
