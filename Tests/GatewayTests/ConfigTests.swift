import Gateway
import Modbus
import Testing

@Suite("Configuration")
struct ConfigTests {
    @Test("the documented example parses, with defaults")
    func example() throws {
        let yaml = """
            socket: {path: /run/sunspec-gateway/readings.sock, mode: "0660", buffer: 4MiB}
            devices:
              - {name: bess-1, tcp: "10.0.0.5:502", unit: 1, interval: 1s, timeout: 1s}
              - name: rack-3
                rtu: {port: /dev/ttyUSB0, baud: 19200, parity: E, data_bits: 8, stop_bits: 1}
                unit: 3
                interval: 5s
                base: 40000          # default: discover
                max_registers: 100   # default 125
                models: [802, 804]   # default: all
            """
        let config = try GatewayConfig.parse(yaml, file: "gateway.yaml")
        #expect(config.socketPath == "/run/sunspec-gateway/readings.sock")
        #expect(config.socketMode == 0o660)
        #expect(config.bufferLimit == 4 << 20)
        #expect(config.devices.count == 2)
        #expect(config.devices[0] == DeviceConfig(name: "bess-1", endpoint: .tcp(host: "10.0.0.5", port: 502)))
        let rack = config.devices[1]
        #expect(rack.endpoint == .rtu(SerialSettings(port: "/dev/ttyUSB0", baud: 19200, parity: .even, dataBits: 8, stopBits: 1)))
        #expect(rack.unit == 3)
        #expect(rack.interval == .seconds(5))
        #expect(rack.base == 40000)
        #expect(rack.maxRegisters == 100)
        #expect(rack.models == [802, 804])
    }

    @Test(
        "mistakes name the file, line and key path",
        arguments: [
            ("devices: []", "f.yaml:1: devices: expected a list of at least one device"),
            ("socket: {path: /x}", "f.yaml:1: devices: missing: at least one device is needed"),
            (
                "devices:\n  - {name: a, tcp: \"h:502\", interval: 5x}",
                "f.yaml:2: devices[0].interval: '5x' is not a duration (1s, 500ms, 2m)"
            ),
            ("devices:\n  - {name: a}", "f.yaml:2: devices[0]: needs tcp: HOST[:PORT] or rtu: {port: ...}"),
            ("devices:\n  - {name: a, tcp: h, rtu: {port: /dev/x}}", "f.yaml:2: devices[0]: has both tcp and rtu: give one"),
            ("devices:\n  - name: a\n    rtu: {port: /dev/x, baud: fast}", "f.yaml:3: devices[0].rtu.baud: expected an integer"),
            ("devices:\n  - name: a\n    rtu: {port: /dev/x, parity: X}", "f.yaml:3: devices[0].rtu.parity: 'X' is not N, E or O"),
            ("devices:\n  - {name: a, tcp: h, max_registers: 200}", "f.yaml:2: devices[0].max_registers: 200 is outside 1...125"),
            ("devices:\n  - {name: a, tcp: h, unit: 300}", "f.yaml:2: devices[0].unit: 300 is outside 0...255"),
            ("devices:\n  - {name: a, tcp: h}\n  - {name: a, tcp: g}", "f.yaml:3: devices[1].name: 'a' is used by another device"),
            ("devices:\n  - {name: a, tcp: h, intervall: 1s}", "f.yaml:2: devices[0].intervall: unknown key"),
            ("socket: {mode: rw}\ndevices:\n  - {name: a, tcp: h}", "f.yaml:1: socket.mode: 'rw' is not an octal file mode"),
            ("devices:\n  - {name: a, tcp: h, models: [802, 0]}", "f.yaml:2: devices[0].models[1]: 0 is outside 1...65534"),
            ("devices: [", "f.yaml:2: not valid YAML"),
        ])
    func mistakes(yaml: String, expected: String) {
        let error = #expect(throws: ConfigError.self) { try GatewayConfig.parse(yaml, file: "f.yaml") }
        #expect(error?.description.hasPrefix(expected) == true, "\(error?.description ?? "")")
    }
}
