import Profiles
import SunSpec
import Testing

/// A small valid profile; `extra` lines are appended under `models: 802:`.
func profileYAML(_ extra: String = "", defaults: String = "") -> String {
    """
    profile: test-battery
    vendor: Acme
    product: Rack 9
    source: "Acme Modbus map v1.2, table 4"
    defaults:
      unit: 1
      function: holding
    \(defaults)
    identity: {Mn: Acme, Md: Rack 9}
    models:
      802:
        AHRtg: null
        WHRtg: {address: 100, type: u32, scale: 1}
        WChaRteMax: {address: 102, type: u16, scale: 10}
        WDisChaRteMax: {address: 103, type: u16, scale: 10}
        SoC: {address: 104, type: u16, scale: 0.1}
        LocRemCtl: 0
        AlmRst: null
        Typ: 4
        State: {address: 105, type: u16, map: {2: 3, 1: 4, 3: 99}, otherwise: 1}
        Evt1: {bits: [{address: 106, bit: 0, to: 9}, {address: 106, bit: 1, to: 11}]}
        Evt2: null
        EvtVnd1: {address: 107, type: u32}
        EvtVnd2: null
        V: {address: 109, type: u16, scale: 0.1}
        A: {address: 110, type: s16, scale: 0.1, invert: true}
        W: {address: 111, type: s32, invert: true, sentinels: [0x7FFFFFFF]}
        ChaSt: {address: 111, type: s32, sign: {positive: 4, negative: 3, zero: 6}}
        SetOp: null
        SetInvState: null
    \(extra)
    """
}

@Suite("Profiles: loading and validation")
struct ProfileLoaderTests {
    @Test("a valid profile loads with its sources")
    func loads() throws {
        let profile = try Profile.parse(profileYAML(), file: "p.yaml")
        #expect(profile.name == "test-battery")
        #expect(profile.models.map(\.definition.id) == [802])
        guard case .register(let soc)? = profile.models[0].points["SoC"] else {
            Issue.record("SoC is not a register source")
            return
        }
        #expect(soc.address == 104 && soc.scale == 0.1 && soc.type == .u16)
        #expect(profile.models[0].points["AHRtg"] == .notImplemented)
        #expect(profile.models[0].points["Typ"] == .constant(.number(4)))
    }

    @Test("documented 1-based numbers are converted to protocol addresses")
    func documentNumbers() throws {
        let profile = try Profile.parse(
            profileYAML().replacingOccurrences(of: "SoC: {address: 104,", with: "SoC: {doc: 105,"), file: "p.yaml")
        guard case .register(let soc)? = profile.models[0].points["SoC"] else { return }
        #expect(soc.address == 104)
    }

    @Test(
        "each kind of mistake is named with file, line and key",
        arguments: [
            ("  9999: {}", "models.9999: unknown model 9999"),
            ("    SoCC: {address: 1, type: u16}", "models.802.SoCC: unknown point of model 802 (battery)"),
            ("    SoC_SF: -1", "models.802.SoC_SF: scale factors are chosen by the gateway; map the values they scale"),
            (
                "    DoD: {address: 120, type: u17}",
                "models.802.DoD.type: 'u17' is not one of u16, s16, u32, s32, u64, s64, f32, f64, string"
            ),
            ("    NCyc: {address: 104, type: u32}", "models.802.NCyc: registers 104...105 (u32) overlap models.802.SoC at 104...104 (u16)"),
            ("    Hb: 70000", "models.802.Hb: 70000.0 cannot be held by Hb, a uint16"),
            ("    DoD: {address: 120, doc: 0, type: u16}", "models.802.DoD.doc: give address (0-based) or doc (1-based), not both"),
            (
                "    Evt2: {bits: [{address: 130, doc: -1, bit: 0, to: 1}]}",
                "models.802.Evt2.bits[0].doc: give address (0-based) or doc (1-based), not both"
            ),
            ("    DoD: {address: 120}", "models.802.DoD.type: missing (u16, s16, u32, s32, u64, s64, f32, f64, string)"),
            ("    ChaSt: {address: 121, type: u16, map: {1: 70000}}", "models.802.ChaSt.map.1: 70000.0 cannot be held by ChaSt, a enum16"),
            (
                "    Typ: {address: 122, type: u16, scale: 0.1}",
                "models.802.Typ: Typ is a enum16: its value must be a whole vendor value, or come from map, flags or sign"
            ),
        ])
    func mistakes(extra: String, expected: String) {
        var yaml = profileYAML()
        // A point given again replaces the valid source rather than repeating the key.
        for key in [
            "    Typ: 4\n", "    Evt2: null\n", "    ChaSt: {address: 111, type: s32, sign: {positive: 4, negative: 3, zero: 6}}\n",
        ]
        where extra.hasPrefix(key.prefix { $0 != ":" } + ":") {
            yaml = yaml.replacingOccurrences(of: key, with: "")
        }
        yaml += "\n" + extra + "\n"
        let line = yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0 == extra }! + 1
        let error = #expect(throws: ProfileError.self) { try Profile.parse(yaml, file: "p.yaml") }
        #expect(error?.description == "p.yaml:\(line): \(expected)")
    }

    @Test("a missing mandatory point is an error saying how to mark it absent")
    func missingMandatory() {
        let yaml = profileYAML().replacingOccurrences(of: "    AHRtg: null\n", with: "")
        let error = #expect(throws: ProfileError.self) { try Profile.parse(yaml, file: "p.yaml") }
        #expect(
            error?.description.contains("models.802.AHRtg: missing mandatory point (map it, or write 'AHRtg: null'") == true,
            "\(error?.description ?? "")")
    }

    @Test("unknown keys and bad defaults are errors")
    func badKeys() {
        let unknown = #expect(throws: ProfileError.self) {
            try Profile.parse(profileYAML().replacingOccurrences(of: "vendor:", with: "vendr:"), file: "p.yaml")
        }
        #expect(unknown?.description.hasPrefix("p.yaml:2: vendr: unknown key") == true)
        let order = #expect(throws: ProfileError.self) { try Profile.parse(profileYAML(defaults: "  word_order: middle"), file: "p.yaml") }
        #expect(order?.description.contains("defaults.word_order: 'middle' is not high_first or low_first") == true)
    }

    @Test(
        "a fixed block that runs past register 65535 is refused",
        arguments: [
            (
                "  blocks: [{start: 65500, count: 100}]",
                "p.yaml:8: defaults.blocks[0]: start 65500 with count 100 runs past register 65535 (to 65599)"
            ),
            (
                "  blocks: [{doc: 65536, count: 2}]",
                "p.yaml:8: defaults.blocks[0]: start 65535 with count 2 runs past register 65535 (to 65536)"
            ),
        ])
    func blockPastLastRegister(defaults: String, expected: String) {
        let error = #expect(throws: ProfileError.self) { try Profile.parse(profileYAML(defaults: defaults), file: "p.yaml") }
        #expect(error?.description == expected)
    }

    @Test("a fixed block that ends at register 65535 loads")
    func blockToLastRegister() throws {
        let profile = try Profile.parse(profileYAML(defaults: "  blocks: [{start: 65436, count: 100}]"), file: "p.yaml")
        #expect(profile.defaults.blocks.map(\.start) == [65436])
    }
}

@Suite("Profiles from careless hands")
struct ProfileYAMLProblemTests {
    @Test("a duplicate key and a NUL byte in a profile: one line with the file and the line")
    func problems() {
        let duplicate = profileYAML().replacingOccurrences(of: "vendor: Acme\n", with: "vendor: Acme\nvendor: Other\n")
        let nul = profileYAML().replacingOccurrences(of: "product: Rack 9", with: "product: Rack\u{0}9")
        for (yaml, message) in [
            (duplicate, "p.yaml:2: 'vendor' is given more than once in one mapping (first on this line)"),
            (nul, "p.yaml:3: not valid YAML: control characters are not allowed (a NUL byte)"),
        ] {
            do {
                _ = try Profile.parse(yaml, file: "p.yaml")
                Issue.record("accepted")
            } catch {
                #expect(error.description == message)
            }
        }
    }
}
