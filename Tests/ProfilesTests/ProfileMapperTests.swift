import Profiles
import SunSpec
import Testing

@Suite("Profiles: mapping vendor registers onto SunSpec")
struct ProfileMapperTests {
    /// Vendor registers for `profileYAML()`.
    func registers(power: Int32 = -2500, soc: UInt16 = 653, state: UInt16 = 2) -> VendorRegisters {
        var regs = [UInt16](repeating: 0, count: 20)
        regs[0] = 0; regs[1] = 13500  // WHRtg u32 = 13500 Wh
        regs[2] = 500; regs[3] = 500  // W(Dis)ChaRteMax x10 = 5000 W
        regs[4] = soc  // SoC x0.1
        regs[5] = state  // State
        regs[6] = 0b10  // alarms: bit 1
        regs[7] = 0; regs[8] = 0x0102  // EvtVnd1
        regs[9] = 5123  // V x0.1
        regs[10] = UInt16(bitPattern: -48)  // A x0.1, inverted
        let p = UInt32(bitPattern: power)
        regs[11] = UInt16(p >> 16); regs[12] = UInt16(p & 0xFFFF)  // W s32, inverted
        return VendorRegisters(holding: RegisterImage(blocks: [.init(start: 100, registers: regs)]))
    }

    func decode(_ profile: Profile, _ registers: VendorRegisters) throws -> DecodedModel {
        let mapped = ProfileMapper(profile: profile).map(registers)
        let device = try DeviceDecoder.decode(mapped.image, base: ProfileMapper.base)
        #expect(device.models.map(\.model.id) == [1, 802])
        #expect(device.chainError == nil)
        return device.models[1].model
    }

    @Test("values in SunSpec units, scale factors chosen to keep the vendor's precision")
    func values() throws {
        let profile = try Profile.parse(profileYAML(), file: "p.yaml")
        let battery = try decode(profile, registers())
        #expect(battery[point: "SoC"]?.doubleValue == 65.3)
        #expect(battery[point: "V"]?.doubleValue == 512.3)
        #expect(battery[point: "A"]?.doubleValue == 4.8)
        #expect(battery[point: "W"]?.doubleValue == 2500)
        #expect(battery[point: "WHRtg"]?.doubleValue == 13500)
        #expect(battery[point: "WChaRteMax"]?.doubleValue == 5000)
        #expect(battery[point: "AHRtg"] == .null)
        #expect(battery[point: "Typ"] == .uint(4))
        #expect(battery[point: "State"] == .uint(3))
        #expect(battery[point: "ChaSt"] == .uint(3))  // raw power negative: discharging in the vendor's sign
        #expect(battery[point: "Evt1"] == .uint(1 << 11))
        #expect(battery[point: "EvtVnd1"] == .uint(0x0102))
        #expect(battery.errors.isEmpty)
    }

    @Test("sentinels and unmapped enum values become null or the otherwise value")
    func sentinels() throws {
        let profile = try Profile.parse(profileYAML(), file: "p.yaml")
        let battery = try decode(profile, registers(power: 0x7FFF_FFFF, state: 9))
        #expect(battery[point: "W"] == .null)
        #expect(battery[point: "State"] == .uint(1))
    }

    @Test("a value too large for the chosen type raises the scale factor rather than losing it")
    func range() throws {
        let yaml = profileYAML().replacingOccurrences(
            of: "WHRtg: {address: 100, type: u32, scale: 1}", with: "WHRtg: {address: 100, type: u32, scale: 1}")
        let profile = try Profile.parse(yaml, file: "p.yaml")
        var regs = registers()
        regs.holding.insert(.init(start: 100, registers: [0x0001, 0x86A0]))  // 100,000 Wh: beyond uint16
        let battery = try decode(profile, regs)
        #expect(battery[point: "WHRtg"]?.doubleValue == 100_000)
    }

    @Test("registers missing from the device make their points null, not the whole model")
    func missing() throws {
        let profile = try Profile.parse(profileYAML(), file: "p.yaml")
        var regs = registers()
        regs.holding = RegisterImage(blocks: regs.holding.blocks.map { .init(start: $0.start, registers: Array($0.registers.prefix(9))) })
        let battery = try decode(profile, regs)
        #expect(battery[point: "SoC"]?.doubleValue == 65.3)
        #expect(battery[point: "V"] == .null)
        #expect(battery[point: "W"] == .null)
    }

    @Test("word order and floats: low word first, float32")
    func wordOrder() throws {
        let yaml = profileYAML().replacingOccurrences(
            of: "V: {address: 109, type: u16, scale: 0.1}", with: "V: {address: 130, type: f32, word_order: low_first, precision: -1}")
        let profile = try Profile.parse(yaml, file: "p.yaml")
        var regs = registers()
        let bits = Float(512.25).bitPattern
        regs.holding.insert(.init(start: 130, registers: [UInt16(bits & 0xFFFF), UInt16(bits >> 16)]))
        let battery = try decode(profile, regs)
        #expect(battery[point: "V"]?.doubleValue == 512.3)  // one decimal kept (precision -1)
    }
}

@Suite("Profiles: vendor values a point cannot hold")
struct ProfileOverflowTests {
    func mapped(_ value: Float) throws -> DecodedDevice {
        let yaml = profileYAML().replacingOccurrences(
            of: "WHRtg: {address: 100, type: u32, scale: 1}", with: "WHRtg: {address: 100, type: f32}")
        let profile = try Profile.parse(yaml, file: "p.yaml")
        var regs = [UInt16](repeating: 0, count: 20)
        regs[0] = UInt16(value.bitPattern >> 16)
        regs[1] = UInt16(value.bitPattern & 0xFFFF)
        let registers = VendorRegisters(holding: RegisterImage(blocks: [.init(start: 100, registers: regs)]))
        let mapped = ProfileMapper(profile: profile).map(registers)
        return try DeviceDecoder.decode(mapped.image, base: ProfileMapper.base).adding(errors: mapped.errors)
    }

    @Test("1e19 in an f32 register for a uint16 point: null with a note naming the point and the value; never a trap")
    func tooLarge() throws {
        let device = try mapped(1e19)
        let battery = try #require(device.models.first { $0.model.id == 802 })
        #expect(battery.model[point: "WHRtg"]?.doubleValue == nil)
        #expect(battery.model[point: "SoC"] != nil)
        let errors = device.models.flatMap { $0.model.errors }
        #expect(errors == ["WHRtg: 9.999999980506448e+18 does not fit uint16"])
    }

    @Test("a negative value is not held by an unsigned point, though a coarse exponent would round it to 0")
    func negative() {
        #expect(!ProfileMapper.holdable(-5, .uint64))
        #expect(!ProfileMapper.holdable(-0.001, .acc32))
        #expect(ProfileMapper.holdable(-5, .int16))
        #expect(ProfileMapper.holdable(0, .uint16))
        #expect(!ProfileMapper.holdable(.infinity, .float32))
        #expect(!ProfileMapper.holdable(1e300, .float32))
    }

    @Test("the next value that fits decodes as usual")
    func fits() throws {
        let device = try mapped(1e12)
        let battery = try #require(device.models.first { $0.model.id == 802 })
        #expect(battery.model[point: "WHRtg"]?.doubleValue == 1e12)
    }
}
