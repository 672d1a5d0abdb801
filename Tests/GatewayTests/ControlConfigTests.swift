import Foundation
import Gateway
import SunSpec
import Testing

/// The `control:` schema: what is accepted, and every refusal at load (one line, file:line: key path).
@Suite("Control configuration")
struct ControlConfigTests {
    static let top = "control: {socket: {path: /tmp/c.sock, mode: \"0600\"}, audit: /tmp/audit.jsonl, max_ttl: 120s}\n"

    /// A config with the top-level `control:` and one TCP device whose `control:` is `device`.
    static func yaml(_ device: String, top: String = top, extra: String = "") -> String {
        "\(top)\(extra)devices:\n  - name: bess-1\n    tcp: \"10.0.0.5:502\"\n    control:\n\(device)"
    }

    @Test func example() throws {
        let config = try GatewayConfig.parse(
            Self.yaml(
                """
                      allow:
                        "124.WChaMax":    {min: 0, max: 50000, revert: 50000}
                        "124.StorCtl_Mod": {}
                        "802.SetOp":      {values: [CONNECT, DISCONNECT]}
                        "704.WSet":       {min: -50000, max: 50000, revert: 0, min_interval: 1s}
                        "803.string[1].StrSetEna": {revert: ENABLE_STRING}
                        "124.OutWRte":    {min: -12.5, max: 1e2}
                      heartbeat: 802.CtrlHb
                      export: true
                      write_function: 6
                      settle: 500ms

                """, extra: "export: {modbus_tcp: {listen: \"0.0.0.0:1502\"}}\n"), file: "f.yaml")
        #expect(
            config.control
                == ControlSettings(socketPath: "/tmp/c.sock", socketMode: 0o600, auditPath: "/tmp/audit.jsonl", maxTTL: .seconds(120)))
        let control = try #require(config.devices[0].control)
        #expect(
            control.allow.map(\.path.description) == [
                "124.WChaMax", "124.StorCtl_Mod", "802.SetOp", "704.WSet", "803.string[1].StrSetEna", "124.OutWRte",
            ])
        let w = try #require(control.allowed(try PointPath(parsing: "124[0].WChaMax")))
        #expect(w.min == ExactDecimal(0, exponent: 0) && w.max == ExactDecimal(50000, exponent: 0))
        #expect(w.revert == .number(ExactDecimal(50000, exponent: 0)))
        #expect(w.definition.name == "WChaMax" && w.model.id == 124 && w.vendor == nil && w.minInterval == nil)
        #expect(control.allow[2].values == ["CONNECT", "DISCONNECT"])
        #expect(control.allow[3].minInterval == .seconds(1))
        #expect(control.allow[3].min == ExactDecimal(-50000, exponent: 0))
        #expect(control.allow[4].revert == .symbol("ENABLE_STRING"))
        #expect(control.allow[5].min == ExactDecimal(-125, exponent: -1) && control.allow[5].max == ExactDecimal(100, exponent: 0))
        #expect(control.heartbeat == (try PointPath(parsing: "802.CtrlHb")) && control.heartbeatDefinition?.name == "CtrlHb")
        #expect(control.export && control.writeFunction == .single && control.settle == .milliseconds(500))
        #expect(control.allowed(try PointPath(parsing: "124.WChaGra")) == nil)
    }

    @Test func defaults() throws {
        let config = try GatewayConfig.parse(
            Self.yaml("      allow: {\"124.WChaMax\": ~}\n", top: "control: {audit: /tmp/a.jsonl}\n"), file: "f.yaml")
        #expect(config.control == ControlSettings(auditPath: "/tmp/a.jsonl"))
        #expect(config.control?.socketPath == "/run/sunspec-gateway/control.sock" && config.control?.socketMode == 0o600)
        #expect(config.control?.maxTTL == .seconds(300))
        let control = try #require(config.devices[0].control)
        #expect(!control.export && control.writeFunction == .multiple && control.settle == .zero && control.heartbeat == nil)
        #expect(try GatewayConfig.parse("devices:\n  - {name: a, tcp: h}", file: "f.yaml").control == nil)
    }

    @Test func profileDevice() throws {
        let huawei = shippedProfile("huawei-luna2000.yaml")
        let config = try GatewayConfig.parse(
            "\(Self.top)devices:\n  - name: h\n    tcp: h\n    profile: \(huawei)\n    control:\n      allow:\n        \"124.WChaMax\": {max: 5000, revert: 5000}\n        \"124.StorCtl_Mod\": {revert: 0}\n",
            file: "f.yaml")
        let allowed = try #require(config.devices[0].control?.allow.first)
        #expect(allowed.vendor?.address == 47075 && allowed.vendor?.size == 2)
    }

    static let deviceCases: [(String, String)] = [
        // Points.
        (
            "      allow: {\"124.Nope\": {}}\n",
            "f.yaml:6: devices[0].control.allow.124.Nope: 124.Nope: 124 (storage_basic) has no point Nope"
        ),
        ("      allow: {\"9999.W\": {}}\n", "f.yaml:6: devices[0].control.allow.9999.W: model 9999 is not a known model"),
        (
            "      allow: {\"WChaMax\": {}}\n",
            "f.yaml:6: devices[0].control.allow.WChaMax: 'WChaMax' is not MODEL.POINT (124.WChaMax, 803.string[1].StrSetEna)"
        ),
        (
            "      allow: {\"124.ChaState\": {}}\n",
            "f.yaml:6: devices[0].control.allow.124.ChaState: ChaState is read-only (access R in model 124)"
        ),
        (
            "      allow: {\"124.WChaMax_SF\": {}}\n",
            "f.yaml:6: devices[0].control.allow.124.WChaMax_SF: WChaMax_SF is a scale factor; the gateway never changes a scale factor"
        ),
        ("      allow: {\"1.Opt\": {}}\n", "f.yaml:6: devices[0].control.allow.1.Opt: Opt is a string point; text points are not written"),
        (
            "      allow: {\"803.string[1].StrSetEn\": {}}\n",
            "f.yaml:6: devices[0].control.allow.803.string[1].StrSetEn: 803.string[1].StrSetEn: 803.string (lithium_ion_bank) has no point StrSetEn"
        ),
        ("      allow: {}\n", "f.yaml:6: devices[0].control.allow: empty: name at least one point (\"124.WChaMax\": {})"),
        ("      heartbeat: 802.CtrlHb\n", "f.yaml:6: devices[0].control.allow: missing: the points that may be written"),
        (
            "      allow: {\"124.WChaMax\": {}, \"124[0].WChaMax\": {}}\n",
            "f.yaml:6: devices[0].control.allow.124[0].WChaMax: names the same point as 124.WChaMax, given before"
        ),
        (
            "      allow: {\"124.WChaMax\": {step: 1}}\n",
            "f.yaml:6: devices[0].control.allow.124.WChaMax.step: unknown key (known: max, min, min_interval, revert, values)"
        ),
        // Limits.
        ("      allow: {\"124.WChaMax\": {min: 10, max: 5}}\n", "f.yaml:6: devices[0].control.allow.124.WChaMax.max: 5 is below min 10"),
        (
            "      allow: {\"124.WChaMax\": {min: ten}}\n",
            "f.yaml:6: devices[0].control.allow.124.WChaMax.min: expected a number (50000, -12.5)"
        ),
        (
            "      allow: {\"124.WChaMax\": {min: 0, max: 100, revert: 101}}\n",
            "f.yaml:6: devices[0].control.allow.124.WChaMax.revert: 101 is above max 100"
        ),
        (
            "      allow: {\"124.WChaMax\": {min: 10, revert: 9.5}}\n",
            "f.yaml:6: devices[0].control.allow.124.WChaMax.revert: 9.5 is below min 10"
        ),
        (
            "      allow: {\"124.WChaMax\": {revert: FULL}}\n",
            "f.yaml:6: devices[0].control.allow.124.WChaMax.revert: FULL cannot be written to WChaMax: WChaMax is a number; 'FULL' is not one"
        ),
        (
            "      allow: {\"124.StorCtl_Mod\": {min: 0}}\n",
            "f.yaml:6: devices[0].control.allow.124.StorCtl_Mod.min: StorCtl_Mod is a bitfield16 point; limit it with values:"
        ),
        (
            "      allow: {\"124.WChaMax\": {values: [A]}}\n",
            "f.yaml:6: devices[0].control.allow.124.WChaMax.values: WChaMax is a uint16 point; values: is for enum points"
        ),
        (
            "      allow: {\"802.SetOp\": {values: [CONNECT, OPEN]}}\n",
            "f.yaml:6: devices[0].control.allow.802.SetOp.values[1]: OPEN is not a symbol of SetOp (CONNECT, DISCONNECT)"
        ),
        (
            "      allow: {\"802.SetOp\": {values: [CONNECT, CONNECT]}}\n",
            "f.yaml:6: devices[0].control.allow.802.SetOp.values[1]: CONNECT is given twice"
        ),
        (
            "      allow: {\"802.SetOp\": {values: [CONNECT], revert: DISCONNECT}}\n",
            "f.yaml:6: devices[0].control.allow.802.SetOp.revert: DISCONNECT is not one of values [\"CONNECT\"]"
        ),
        (
            "      allow: {\"802.SetOp\": {revert: OPEN}}\n",
            "f.yaml:6: devices[0].control.allow.802.SetOp.revert: OPEN cannot be written to SetOp: OPEN is not a symbol of SetOp (CONNECT=1, DISCONNECT=2)"
        ),
        (
            "      allow: {\"802.SetOp\": {revert: 7}}\n",
            "f.yaml:6: devices[0].control.allow.802.SetOp.revert: 7 cannot be written to SetOp: 7 is not the value of a symbol of SetOp (CONNECT=1, DISCONNECT=2)"
        ),
        (
            "      allow: {\"802.CtrlHb\": {revert: 65535}}\n",
            "f.yaml:6: devices[0].control.allow.802.CtrlHb.revert: 65535 cannot be written to CtrlHb: 65535 is raw 65535, outside what CtrlHb (uint16) holds: 0...65534"
        ),
        (
            "      allow: {\"802.CtrlHb\": {revert: 1.5}}\n",
            "f.yaml:6: devices[0].control.allow.802.CtrlHb.revert: 1.5 cannot be written to CtrlHb: 1.5 is not a multiple of 1 (scale factor 0 of CtrlHb)"
        ),
        (
            "      allow: {\"704.WSet\": {min_interval: 0s}}\n",
            "f.yaml:6: devices[0].control.allow.704.WSet.min_interval: '0s' is outside 1ms...86400s"
        ),
        // Heartbeat, write function, settle, export.
        (
            "      allow: {\"124.WChaMax\": {}}\n      heartbeat: 802.SetOp\n",
            "f.yaml:7: devices[0].control.heartbeat: SetOp is enum16, not an integer; a heartbeat is a counter"
        ),
        (
            "      allow: {\"124.WChaMax\": {}}\n      heartbeat: 802.Hb\n",
            "f.yaml:7: devices[0].control.heartbeat: Hb is read-only (access R in model 802)"
        ),
        (
            "      allow: {\"802.CtrlHb\": {}}\n      heartbeat: 802.CtrlHb\n",
            "f.yaml:7: devices[0].control.heartbeat: 802.CtrlHb is also in allow; the heartbeat is written by the gateway alone"
        ),
        (
            "      allow: {\"124.WChaMax\": {}}\n      write_function: 3\n",
            "f.yaml:7: devices[0].control.write_function: 3 is not 16 (write multiple registers) or 6 (write single register)"
        ),
        ("      allow: {\"124.WChaMax\": {}}\n      settle: 2m\n", "f.yaml:7: devices[0].control.settle: '2m' is outside 0s...60s"),
        (
            "      allow: {\"124.WChaMax\": {}}\n      export: true\n",
            "f.yaml:7: devices[0].control.export: there is no top-level 'export:', so no SCADA could write through it"
        ),
        ("      allow: {\"124.WChaMax\": {}}\n      export: yes\n", "f.yaml:7: devices[0].control.export: expected true or false"),
    ]

    @Test(arguments: deviceCases)
    func refusals(device: String, expected: String) {
        let error = #expect(throws: ConfigError.self) { try GatewayConfig.parse(Self.yaml(device), file: "f.yaml") }
        #expect(error?.description == expected)
    }

    static let topCases: [(String, String)] = [
        (
            "devices:\n  - name: a\n    tcp: h\n    control: {allow: {\"124.WChaMax\": {}}}\n",
            "f.yaml:4: devices[0].control: there is no top-level 'control:' (its socket and audit), so nothing could ask for writes"
        ),
        (
            "control: {audit: /tmp/a}\ndevices:\n  - {name: a, tcp: h}\n",
            "f.yaml:1: control: no device has a 'control:' section, so nothing could be written"
        ),
        (
            "control: {socket: {path: /tmp/c.sock}}\ndevices:\n  - {name: a, tcp: h}\n",
            "f.yaml:1: control.audit: missing: every control request is audited (audit: /var/lib/sunspec-gateway/audit.jsonl)"
        ),
        (
            "socket: {path: /tmp/s.sock}\ncontrol: {socket: {path: /tmp/s.sock}, audit: /tmp/a}\ndevices:\n  - {name: a, tcp: h}\n",
            "f.yaml:2: control.socket.path: '/tmp/s.sock' is the readings socket; the control socket is a separate one"
        ),
        (
            "control: {audit: /tmp/a, max_ttl: 2d}\ndevices:\n  - {name: a, tcp: h}\n",
            "f.yaml:1: control.max_ttl: '2d' is not a duration (1s, 500ms, 2m)"
        ),
        (
            "control: {audit: /tmp/a, max_ttl: 25h}\ndevices:\n  - {name: a, tcp: h}\n",
            "f.yaml:1: control.max_ttl: '25h' is outside 1s...86400s"
        ),
        (
            "control: {audit: /tmp/a, socket: {mode: \"999\"}}\ndevices:\n  - {name: a, tcp: h}\n",
            "f.yaml:1: control.socket.mode: '999' is not an octal file mode (\"0600\")"
        ),
        (
            "control: {audit: /tmp/a}\ndevices:\n  - name: a\n    tcp: h\n    registers: input\n    control: {allow: {\"124.WChaMax\": {}}}\n",
            "f.yaml:6: devices[0].control: the device is read as input registers (function 4), which cannot be written"
        ),
        (
            "control: {audit: /tmp/a}\ndevices:\n  - name: a\n    tcp: h\n    models: [1, 802]\n    control: {allow: {\"124.WChaMax\": {}}}\n",
            "f.yaml:6: devices[0].control.allow.124.WChaMax: model 124 is not polled (models: [1, 802]), so its scale factors are never read"
        ),
    ]

    @Test(arguments: topCases)
    func topLevelRefusals(yaml: String, expected: String) {
        let error = #expect(throws: ConfigError.self) { try GatewayConfig.parse(yaml, file: "f.yaml") }
        #expect(error?.description == expected)
    }

    static let profileCases: [(String, String)] = [
        ("\"124.WChaGra\": {}", "124.WChaGra: 124.WChaGra: profile huawei-luna2000 does not map this point from a register"),
        ("\"802.SoC\": {}", "802.SoC: SoC is read-only (access R in model 802)"),
        ("\"704.WSet\": {}", "704.WSet: profile huawei-luna2000 maps no model 704 (it maps 802, 713, 124, 701, 803)"),
        (
            "\"124.WChaMax\": {revert: 4294967295}",
            "124.WChaMax.revert: 4294967295 cannot be written to WChaMax: 4294967295 (WChaMax) is raw 4294967295 in register 47075, the vendor's 'no value'"
        ),
    ]

    @Test(arguments: profileCases)
    func profileRefusals(entry: String, message: String) {
        let huawei = shippedProfile("huawei-luna2000.yaml")
        let yaml = "\(Self.top)devices:\n  - name: h\n    tcp: h\n    profile: \(huawei)\n    control:\n      allow: {\(entry)}\n"
        let error = #expect(throws: ConfigError.self) { try GatewayConfig.parse(yaml, file: "f.yaml") }
        #expect(error?.description == "f.yaml:7: devices[0].control.allow.\(message)")
    }
}
