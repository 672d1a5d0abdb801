import Captures
import Foundation
import Profiles
import SunSpec
import Testing

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The vendor capture decoded through a shipped profile: every model by id.
func decodeVendor(profile: String, capture: String) throws -> [Int: DecodedModel] {
    let loaded = try Profile.load(path: repository.appendingPathComponent("Profiles/\(profile).yaml").path)
    let bytes = [UInt8](try Data(contentsOf: repository.appendingPathComponent("Fixtures/vendor/\(capture).json")))
    var registers = VendorRegisters()
    _ = CaptureReader.read(bytes, name: capture) { registers = VendorRegisters(holding: $0.image, input: $0.inputImage) }
    let mapped = ProfileMapper(profile: loaded).map(registers)
    let device = try DeviceDecoder.decode(mapped.image, base: ProfileMapper.base)
    #expect(device.chainError == nil)
    #expect(mapped.errors.isEmpty, "\(mapped.errors)")
    return Dictionary(uniqueKeysWithValues: device.models.map { ($0.model.id, $0.model) })
}

@Suite("The shipped profiles map their vendor captures to the documented SunSpec values")
struct ShippedProfileTests {
    /// (profile, capture, [(model.point, value or nil for null)]) from Fixtures/vendor/README.md.
    static let cases: [(String, String, [(String, Double?)])] = [
        (
            "huawei-luna2000", "huawei-luna2000",
            [
                ("802.WHRtg", 15000), ("802.SoC", 65.3), ("802.State", 3), ("802.V", 452.6), ("802.A", 6.1), ("802.W", 2745),
                ("802.ChaSt", 3), ("802.WChaRteMax", 5000), ("802.WDisChaRteMax", 4600), ("802.SoCMax", 100), ("802.SoCMin", 5),
                ("802.SoCRsvMin", 15), ("802.Typ", 4), ("802.EvtVnd1", 0), ("802.AHRtg", nil), ("713.WHRtg", 15000), ("713.SoC", 65.3),
                ("701.TotWhAbs", 4_213_570), ("701.TotWhInj", 3_911_240), ("124.WChaMax", 4000), ("124.StorCtl_Mod", 0),
                ("803.ModTmpAvg", nil), ("803.ModTmpMin", 19.8), ("803.ModTmpMax", 22.1),
            ]
        ),
        (
            "sungrow-sh", "sungrow-sh",
            [
                ("802.WHRtg", 12800), ("802.SoC", 64.8), ("802.V", 259.6), ("802.A", 10), ("802.W", 2600), ("802.ChaSt", 3),
                ("802.State", 3), ("802.AChaMax", 25), ("802.ADisChaMax", 30), ("802.WChaRteMax", 6400), ("802.WDisChaRteMax", 7000),
                ("802.SoCMax", 100), ("802.SoCMin", 5), ("802.SoCRsvMin", 10), ("802.LocRemCtl", 1), ("802.SoH", nil),
                ("713.WHRtg", 12800), ("713.SoH", nil), ("701.TotWhInj", 7_312_900), ("701.TotWhAbs", 7_788_400),
                ("124.StorCtl_Mod", 0), ("124.WChaMax", 5000), ("803.ModTmpAvg", 17.5),
            ]
        ),
        (
            "solaredge-storedge", "solaredge-storedge",
            [
                ("802.WHRtg", 9700), ("802.WChaRteMax", 4800), ("802.WDisChaRteMax", 5000), ("802.SoC", 65), ("802.SoH", 98),
                ("802.V", 392.5), ("802.A", 6.375), ("802.W", 2500), ("802.ChaSt", 3), ("802.State", 3), ("802.SoCRsvMin", 10),
                ("802.LocRemCtl", 1), ("802.EvtVnd1", 0), ("713.WHAvail", 6179), ("713.SoH", 98), ("701.TotWhInj", 3_245_680),
                ("701.TotWhAbs", 3_512_340), ("124.WChaMax", 5000), ("124.MinRsvPct", 10), ("124.InOutWRte_RvrtTms", 3600),
                ("803.ModTmpAvg", 22.5), ("803.ModTmpMax", nil),
            ]
        ),
        (
            "victron-gx-battery", "victron-gx-battery",
            [
                ("802.AHRtg", 300), ("802.SoC", 65), ("802.SoH", 98.5), ("802.V", 52.04), ("802.VMax", 56.8), ("802.VMin", 44.8),
                ("802.A", 48), ("802.W", 2498), ("802.ChaSt", 3), ("802.AChaMax", 150), ("802.ADisChaMax", 200), ("802.NCyc", 187),
                ("802.State", 3), ("802.CellVMin", 3.24), ("802.CellVMax", 3.27), ("802.Evt1", 0), ("802.WHRtg", nil),
                ("713.SoC", 65), ("713.SoH", 98.5), ("701.TotWhInj", 2_244_000), ("701.TotWhAbs", 2_391_700),
                ("803.ModTmpAvg", 18.5), ("803.ModTmpMin", 17), ("803.ModTmpMax", 19.5),
            ]
        ),
        (
            "victron-gx-system", "victron-gx",
            [
                ("802.V", 52), ("802.A", 48), ("802.W", 2498), ("802.SoC", 65), ("802.ChaSt", 3), ("802.State", nil),
            ]
        ),
    ]

    @Test("known values", arguments: Self.cases.map { $0.0 })
    func values(profile: String) throws {
        let (_, capture, expected) = Self.cases.first { $0.0 == profile }!
        let models = try decodeVendor(profile: profile, capture: capture)
        #expect(models[1]?[point: "Mn"] != nil)
        for (path, value) in expected {
            let parts = path.split(separator: ".")
            let model = try #require(models[Int(parts[0])!], "\(path)")
            let actual = model[point: String(parts[1])]
            if let value {
                #expect(actual?.doubleValue == value, "\(profile) \(path): \(String(describing: actual))")
            } else {
                #expect(actual == .null, "\(profile) \(path): \(String(describing: actual))")
            }
        }
    }

    @Test(
        "every shipped profile validates, and its plan reads within the vendor's limits",
        arguments: [
            ("huawei-luna2000", 64), ("sungrow-sh", 100), ("solaredge-storedge", 86), ("victron-gx-battery", 125),
            ("victron-gx-system", 125),
        ])
    func validates(profile: String, limit: Int) throws {
        let loaded = try Profile.load(path: repository.appendingPathComponent("Profiles/\(profile).yaml").path)
        #expect(!loaded.source.isEmpty)
        let plan = loaded.readPlan()
        #expect(plan.allSatisfy { $0.count <= limit })
        // Every register a source reads is in the plan.
        for model in loaded.models {
            for case .register(let r) in model.points.values {
                #expect(
                    plan.contains { $0.function == r.function && $0.start <= r.address && r.registers.upperBound <= $0.start + $0.count },
                    "\(profile): \(r.address)")
            }
        }
    }
}
