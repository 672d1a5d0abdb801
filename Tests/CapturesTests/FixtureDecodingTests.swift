import Captures
import SunSpec
import Testing

@Suite("Decoding the fixtures")
struct FixtureDecodingTests {
    static let batteryValues: [(String, PointValue)] = [
        ("1.Mn", .string("Acme Storage")), ("1.SN", .string("ASR1002411003817")), ("1.DA", .uint(1)),
        ("103.W", .decimal(ExactDecimal(3000, exponent: 1))), ("103.Hz", .decimal(ExactDecimal(5001, exponent: -2))),
        ("103.TmpTrns", .null), ("103.WH", .decimal(ExactDecimal(48213560, exponent: 0))),
        ("701.Hz", .decimal(ExactDecimal(50012, exponent: -3))), ("701.PF", .decimal(ExactDecimal(990, exponent: -3))),
        ("701.TotVarhInj", .null),
        ("124.ChaState", .decimal(ExactDecimal(675, exponent: -1))), ("124.OutWRte", .null),
        ("713.SoC", .decimal(ExactDecimal(675, exponent: -1))),
        ("802.SoC", .decimal(ExactDecimal(6750, exponent: -2))), ("802.DisChaRte", .null), ("802.ChaSt", .uint(3)),
        ("802.CellVMax", .decimal(ExactDecimal(3317, exponent: -3))), ("802.WChaRteMax", .decimal(ExactDecimal(500, exponent: 2))),
        ("803.NStr", .uint(3)), ("803.string[2].StrA", .decimal(ExactDecimal(1284, exponent: -2))),
        ("804#1.NMod", .uint(8)), ("804#2.V", .decimal(ExactDecimal(7933, exponent: -1))),
        ("804#1.lithium_ion_string_module[8].ModCellVMax", .decimal(ExactDecimal(3311, exponent: -3))),
        ("804#2.lithium_ion_string_module[4].ModCellVAvg", .decimal(ExactDecimal(3305, exponent: -3))),
        ("804#3.SetEna", .null),
    ]

    @Test("the battery inverter: 1,030 registers, ten models, known values")
    func batteryInverter() throws {
        let capture = try #require(captures(try fixture("battery-inverter.json")).first)
        #expect(capture.image.registerCount == 1030)
        #expect(capture.device == "bess-1")
        let device = try DeviceDecoder.decode(capture.image)
        #expect(device.chainError == nil)
        #expect(device.models.map(\.model.id) == [1, 103, 701, 124, 713, 802, 803, 804, 804, 804])
        #expect(device.models.map(\.address) == [40002, 40070, 40122, 40277, 40303, 40312, 40376, 40500, 40676, 40852])
        #expect(device.models.allSatisfy { $0.model.errors.isEmpty })
        for (path, expected) in Self.batteryValues {
            #expect(value(device, path) == expected, "\(path)")
        }
    }

    @Test(
        "the same device in every format decodes to the same values",
        arguments: [
            ("battery-inverter.csv", CaptureFormat.csv), ("battery-inverter.mbpoll.txt", .mbpoll),
            ("battery-inverter.mbpoll-hex.txt", .mbpoll), ("battery-inverter.pysunspec2.json", .pysunspec2),
        ])
    func formats(file: String, format: CaptureFormat) throws {
        let bytes = try fixture(file)
        #expect(CaptureFormat.detect(bytes) == format)
        let reference = try DeviceDecoder.decode(try #require(captures(try fixture("battery-inverter.json")).first).image)
        let device = try DeviceDecoder.decode(try #require(captures(bytes, name: file).first).image)
        #expect(device.models.map(\.address) == reference.models.map(\.address))
        for (a, b) in zip(device.models, reference.models) {
            #expect(a.model.values == b.model.values, "model \(a.model.id) at \(a.address)")
            #expect(a.model.points == b.model.points, "model \(a.model.id) at \(a.address)")
        }
    }

    /// Values pysunspec2's `FileClientDevice` gives for its own test device (`get_dict(computed=True)`).
    static let device1547Values: [(String, PointValue)] = [
        ("1.Mn", .string("SunSpecTest")), ("1.SN", .string("sn-123456789")),
        ("701.W", .decimal(ExactDecimal(9800, exponent: 0))), ("701.PF", .decimal(ExactDecimal(985, exponent: -3))),
        ("701.A", .decimal(ExactDecimal(411, exponent: -1))), ("701.TotWhInj", .decimal(ExactDecimal(150, exponent: 3))),
        ("701.InvSt", .null), ("703.ESVHi", .decimal(ExactDecimal(1050, exponent: -3))),
        ("705.NCrv", .uint(3)), ("705.Crv[1].Pt[2].V", .decimal(ExactDecimal(9670, exponent: -2))),
        ("705.Crv[3].Pt[4].Var", .decimal(ExactDecimal(-2000, exponent: -2))),
        // pysunspec2 gives the raw 6: its scale factor RspTms_SF is not implemented (README kind 1-sf-not-usable).
        ("705.Crv[1].RspTms", .null),
        ("707.Crv[1].MayTrip.Pt[1].V", .decimal(ExactDecimal(7000, exponent: -2))),
        ("711.Ctl[1].DbOf", .decimal(ExactDecimal(60030, exponent: -2))), ("713.SoC", .null),
    ]

    @Test("pysunspec2's own test device (device_1547.json): its end marker ends the chain")
    func pysunspec2Device1547() throws {
        let bytes = try fixture("device_1547.pysunspec2.json")
        #expect(CaptureFormat.detect(bytes) == .pysunspec2)
        let capture = try #require(captures(bytes, name: "device_1547.pysunspec2.json").first)
        let device = try DeviceDecoder.decode(capture.image)
        #expect(device.chainError == nil)
        #expect(device.models.map(\.model.id) == [1, 701, 702, 703, 704, 705, 706, 707, 708, 709, 710, 711, 712, 713])
        // pysunspec2's FileClientDevice places them the same way (model_addr from 40002).
        #expect(
            device.models.map(\.address) == [
                40002, 40070, 40225, 40277, 40296, 40363, 40432, 40465, 40487, 40509, 40534, 40559, 40583, 40603,
            ])
        #expect(device.models.allSatisfy { $0.model.errors.isEmpty })
        for (path, expected) in Self.device1547Values {
            #expect(value(device, path) == expected, "\(path)")
        }
    }

    @Test("the legacy storage inverter at 50000, from its capture and from mbpoll -0")
    func legacy() throws {
        let device = try DeviceDecoder.decode(try #require(captures(try fixture("legacy-storage.json")).first).image)
        #expect(device.base == 50000)
        #expect(device.models.map(\.model.id) == [1, 103, 120, 121, 122, 123, 124])
        let text = captures(try fixture("legacy-storage.mbpoll0.txt"), options: CaptureOptions(zeroBased: true))
        let fromMbpoll = try DeviceDecoder.decode(try #require(text.first).image)
        #expect(fromMbpoll.models.map(\.model.values) == device.models.map(\.model.values))
        #expect(fromMbpoll.models.map(\.model.points) == device.models.map(\.model.points))
    }

    @Test("a .jsonl history decodes line by line")
    func history() throws {
        let lines = captures(try fixture("history.jsonl"), name: "history.jsonl")
        #expect(lines.count == 20)
        #expect(lines[0].location == "history.jsonl:1")
        #expect(lines[19].captured == "2026-11-29T05:40:19.123Z")
        for capture in lines {
            #expect(try DeviceDecoder.decode(capture.image).models.count == 10)
        }
    }

    @Test(
        "real devices: holes, short models, vendor models; the chain is walked to its end",
        arguments: [
            ("real/solaredge-2019-10-01.json", [1, 101]),
            (
                "real/fimer-pvs-2024-07-22.json",
                [1, 103, 120, 121, 122, 123, 126, 127, 129, 130, 132, 135, 136, 139, 140, 145, 160, 65230, 65232]
            ),
            ("real/sma-sunny-boy-3.6-2025-04-10.json", [1, 11, 12, 101, 120, 121, 122, 123, 124, 126, 127, 128, 131, 132, 160, 129, 130]),
            ("real/der-emulator-2025.json", [1, 701, 702, 703, 704, 705, 706, 707, 708, 709, 710, 711, 712, 713, 714, 64412]),
        ])
    func realDevices(file: String, ids: [Int]) throws {
        let device = try DeviceDecoder.decode(try #require(captures(try fixture(file)).first).image)
        #expect(device.models.map(\.model.id) == ids)
        #expect(device.chainError == nil)
    }

    @Test("SMA with refused registers: the points over holes are null, the rest decode")
    func smaHoles() throws {
        let device = try DeviceDecoder.decode(try #require(captures(try fixture("real/sma-sunny-boy-3.6-2025-04-10.json")).first).image)
        let mppt = try #require(device.models.first { $0.model.id == 160 })
        #expect(mppt.model.errors.first?.contains("were not captured") == true)
        #expect(value(device, "1.Mn") == .string("SMA"))
        #expect(value(device, "160.N") == .uint(6))
        #expect(mppt.model.values?.groups[0].count == 6)
        #expect(value(device, "160.module[1].DCA") == .null)
    }

    @Test("SolarEdge's model 1 of 65 registers decodes, with a length error")
    func solarEdge() throws {
        let device = try DeviceDecoder.decode(try #require(captures(try fixture("real/solaredge-2019-10-01.json")).first).image)
        #expect(value(device, "1.Mn") == .string("SolarEdge "))
        #expect(device.models[0].model.length == 65)
        #expect(device.models[0].model.errors.count == 1)
        #expect(value(device, "101.W") == .decimal(ExactDecimal(5092, exponent: -1)))
    }
}
