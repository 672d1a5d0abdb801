import Foundation
import Modbus
import Profiles
import SunSpec
import YAMLFiles
import Yams

/// The gateway's configuration, read from YAML and checked before anything starts.
///
/// ```yaml
/// socket: {path: /run/sunspec-gateway/readings.sock, mode: "0660", buffer: 4MiB, max_subscribers: 1000}
/// devices:
///   - {name: bess-1, tcp: "10.0.0.5:502", unit: 1, interval: 1s, timeout: 1s}
///   - name: rack-3
///     rtu: {port: /dev/ttyUSB0, baud: 19200, parity: E, data_bits: 8, stop_bits: 1}
///     unit: 3
///     interval: 5s
///     base: 40000          # default: discover
///     max_registers: 100   # default 125
///     models: [802, 804]   # default: all
/// ```
public struct GatewayConfig: Sendable {
    /// Path of the Unix socket.
    public var socketPath = "/run/sunspec-gateway/readings.sock"
    /// Its file mode.
    public var socketMode: mode_t = 0o660
    /// Bytes a subscriber may have queued before it is disconnected.
    public var bufferLimit = 4 << 20
    /// Most subscribers served at once (`socket.max_subscribers`, 1...100000); more are refused.
    public var maxSubscribers = 1000
    /// The devices polled.
    public var devices: [DeviceConfig] = []
    /// The SunSpec Modbus TCP export, if configured.
    public var export: ExportSettings?
    /// Where `/metrics` and `/status` are served, if configured (`metrics: {listen: "127.0.0.1:9108"}`).
    public var metrics: MetricsSettings?
    /// The MQTT publisher (plain JSON topics and/or Sparkplug B), if configured.
    public var mqtt: MQTTSettings?
    /// The control socket and audit, if configured (devices then say what may be written in their `control:`).
    public var control: ControlSettings?

    /// Creates a configuration.
    public init(
        socketPath: String = "/run/sunspec-gateway/readings.sock", socketMode: mode_t = 0o660, bufferLimit: Int = 4 << 20,
        devices: [DeviceConfig] = []
    ) {
        self.socketPath = socketPath
        self.socketMode = socketMode
        self.bufferLimit = bufferLimit
        self.devices = devices
    }

    /// Reads and checks a configuration file.
    public static func load(path: String) throws(ConfigError) -> GatewayConfig {
        try parse(try YAMLFile.text(atPath: path), file: path)
    }

    /// Parses and checks YAML text.
    public static func parse(_ yaml: String, file: String) throws(ConfigError) -> GatewayConfig {
        let root = try YAMLFile.root(of: yaml, file: file)
        var reader = ConfigReader(file: file)
        var config = try reader.config(root)
        if config.export != nil {
            // Export units default to the devices' order in the file, from 1.
            var used = Set(config.devices.compactMap(\.exportUnit))
            var next = 1
            for i in config.devices.indices where config.devices[i].exportUnit == nil {
                while used.contains(next) { next += 1 }
                config.devices[i].exportUnit = next
                used.insert(next)
            }
        }
        return config
    }
}

/// Where the SunSpec Modbus TCP export listens.
public struct ExportSettings: Sendable, Equatable {
    /// Dotted IPv4 address.
    public var host: String
    /// TCP port.
    public var port: Int
    /// Most clients served at once.
    public var maxConnections: Int
    /// A client with no complete request for this long is closed (`idle_timeout`, 1s-24h).
    ///
    /// 60 s by default: SCADA and loggers poll every 1 to 15 s (a 1-minute poll still fits), and a
    /// client that opened a connection and went silent frees its slot within the minute.
    public var idleTimeout: Duration

    /// Creates settings.
    public init(host: String, port: Int, maxConnections: Int = 32, idleTimeout: Duration = .seconds(60)) {
        self.host = host
        self.port = port
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
    }
}

/// Where the metrics (`/metrics`, `/status`) are served over HTTP.
public struct MetricsSettings: Sendable, Equatable {
    /// Dotted IPv4 address (loopback unless a scraper elsewhere needs it).
    public var host: String
    /// TCP port (0: any free one, for tests).
    public var port: Int

    /// Creates settings.
    public init(host: String = "127.0.0.1", port: Int = 9108) {
        self.host = host
        self.port = port
    }
}

/// A configuration mistake: file, line, key path and what is wrong. Exit status 78.
public typealias ConfigError = YAMLFileError

/// Walks the configuration's YAML nodes, naming the key path of every mistake; the YAML
/// primitives come from `YAMLReader`.
struct ConfigReader: YAMLReader {
    let file: String

    /// Polling intervals the gateway takes: 1 ms to a day.
    static let intervals: ClosedRange<Duration> = Duration.milliseconds(1)...Duration.seconds(86_400)
    /// Response timeouts: 1 ms to 10 minutes (libmodbus waits this long for one answer).
    static let timeouts: ClosedRange<Duration> = Duration.milliseconds(1)...Duration.seconds(600)
    /// Export idle timeouts: 1 s to a day.
    static let idleTimeouts: ClosedRange<Duration> = Duration.seconds(1)...Duration.seconds(86_400)
    /// Subscriber queue limits: 4 KiB to 1 GiB.
    static let bufferSizes: ClosedRange<Int> = 4096...(1 << 30)

    func duration(_ node: Node, _ path: String, within range: ClosedRange<Duration>) throws(ConfigError) -> Duration {
        let text = try string(node, path)
        guard let d = DurationText.parse(text) else { throw fail(node, path, "'\(text)' is not a duration (1s, 500ms, 2m)") }
        guard range.contains(d) else {
            throw fail(
                node, path,
                "'\(text)' is outside \(DurationText.format(range.lowerBound))...\(DurationText.format(range.upperBound))")
        }
        return d
    }

    mutating func config(_ root: Node) throws(ConfigError) -> GatewayConfig {
        let top = try mapping(root, "", allowed: ["socket", "devices", "export", "metrics", "mqtt", "control"])
        var config = GatewayConfig()
        if let socket = top["socket"] {
            let s = try mapping(socket, "socket", allowed: ["path", "mode", "buffer", "max_subscribers"])
            if let path = s["path"] { config.socketPath = try string(path, "socket.path") }
            if let mode = s["mode"] {
                let text = try string(mode, "socket.mode")
                guard let m = mode_t(text, radix: 8), m <= 0o777 else {
                    throw fail(mode, "socket.mode", "'\(text)' is not an octal file mode (\"0660\")")
                }
                config.socketMode = m
            }
            if let buffer = s["buffer"] {
                let text = try string(buffer, "socket.buffer")
                guard let bytes = Self.byteSize(text), Self.bufferSizes.contains(bytes) else {
                    throw fail(buffer, "socket.buffer", "'\(text)' is not a size from 4KiB to 1GiB (4MiB, 512KiB, 1048576)")
                }
                config.bufferLimit = bytes
            }
            if let max = s["max_subscribers"] { config.maxSubscribers = try integer(max, "socket.max_subscribers", 1...100_000) }
        }
        if let export = top["export"] {
            let e = try mapping(export, "export", allowed: ["modbus_tcp"])
            guard let tcp = e["modbus_tcp"] else { throw fail(export, "export.modbus_tcp", "missing") }
            let t = try mapping(tcp, "export.modbus_tcp", allowed: ["listen", "max_connections", "idle_timeout"])
            guard let listen = t["listen"] else { throw fail(tcp, "export.modbus_tcp.listen", "missing (\"0.0.0.0:1502\")") }
            let (host, port) = try ipv4Address(listen, "export.modbus_tcp.listen")
            var settings = ExportSettings(host: host, port: port, maxConnections: 32)
            if let max = t["max_connections"] { settings.maxConnections = try integer(max, "export.modbus_tcp.max_connections", 1...900) }
            if let idle = t["idle_timeout"] {
                settings.idleTimeout = try duration(idle, "export.modbus_tcp.idle_timeout", within: Self.idleTimeouts)
            }
            config.export = settings
        }
        if let metrics = top["metrics"] {
            let m = try mapping(metrics, "metrics", allowed: ["listen"])
            guard let listen = m["listen"] else { throw fail(metrics, "metrics.listen", "missing (\"127.0.0.1:9108\")") }
            let (host, port) = try ipv4Address(listen, "metrics.listen")
            config.metrics = MetricsSettings(host: host, port: port)
        }
        if let control = top["control"] {
            config.control = try controlSettings(control)
            if config.control?.socketPath == config.socketPath {
                throw fail(
                    value(of: "socket", in: control), "control.socket.path",
                    "'\(config.socketPath)' is the readings socket; the control socket is a separate one")
            }
        }
        guard let devicesNode = top["devices"] else { throw fail(root, "devices", "missing: at least one device is needed") }
        guard let list = devicesNode.sequence, !list.isEmpty else {
            throw fail(devicesNode, "devices", "expected a list of at least one device")
        }
        var names = Set<String>()
        for (i, node) in list.enumerated() {
            let device = try self.device(node, "devices[\(i)]")
            guard names.insert(device.name).inserted else {
                throw fail(node, "devices[\(i)].name", "'\(device.name)' is used by another device")
            }
            if let unit = device.exportUnit, config.devices.contains(where: { $0.exportUnit == unit }) {
                throw fail(node, "devices[\(i)].export_unit", "\(unit) is used by another device")
            }
            if device.exportUnit != nil, config.export == nil {
                throw fail(
                    value(of: "export_unit", in: node), "devices[\(i)].export_unit",
                    "there is no top-level 'export:', so nothing would serve this unit")
            }
            if case .rtu(let line) = device.endpoint {
                for (k, other) in config.devices.enumerated() {
                    guard case .rtu(let first) = other.endpoint, first.port == line.port, first != line else { continue }
                    throw fail(
                        value(of: "rtu", in: node), "devices[\(i)].rtu",
                        "port \(line.port) is used by devices[\(k)] ('\(other.name)') at \(Self.lineText(first)); one serial line has one set of settings (here \(Self.lineText(line)))"
                    )
                }
            }
            if device.control != nil, config.control == nil {
                throw fail(
                    value(of: "control", in: node), "devices[\(i)].control",
                    "there is no top-level 'control:' (its socket and audit), so nothing could ask for writes")
            }
            if device.control?.export == true, config.export == nil {
                throw fail(
                    value(of: "export", in: value(of: "control", in: node)), "devices[\(i)].control.export",
                    "there is no top-level 'export:', so no SCADA could write through it")
            }
            config.devices.append(device)
        }
        if let control = top["control"], !config.devices.contains(where: { $0.control != nil }) {
            throw fail(control, "control", "no device has a 'control:' section, so nothing could be written")
        }
        if let mqtt = top["mqtt"] { config.mqtt = try self.mqtt(mqtt, devices: config.devices) }
        return config
    }

    /// `IPV4-ADDRESS:PORT` (a listen address).
    func ipv4Address(_ node: Node, _ path: String) throws(ConfigError) -> (String, Int) {
        let text = try string(node, path)
        guard case .tcp(let host, let port)? = Endpoint.parseTCP(text), host.split(separator: ".").count == 4,
            host.split(separator: ".").allSatisfy({ UInt8($0) != nil })
        else {
            throw fail(node, path, "'\(text)' is not IPV4-ADDRESS:PORT")
        }
        return (host, port)
    }

    func device(_ node: Node, _ path: String) throws(ConfigError) -> DeviceConfig {
        let d = try mapping(
            node, path,
            allowed: [
                "name", "tcp", "rtu", "unit", "interval", "timeout", "base", "max_registers", "models", "registers", "profile", "quirks",
                "export_unit", "control",
            ])
        guard let nameNode = d["name"] else { throw fail(node, "\(path).name", "missing") }
        let name = try string(nameNode, "\(path).name")
        let endpoint: Endpoint
        switch (d["tcp"], d["rtu"]) {
        case (let tcp?, nil):
            let text = try string(tcp, "\(path).tcp")
            guard let e = Endpoint.parseTCP(text) else { throw fail(tcp, "\(path).tcp", "'\(text)' is not HOST[:PORT]") }
            endpoint = e
        case (nil, let rtu?):
            endpoint = .rtu(try serial(rtu, "\(path).rtu"))
        case (nil, nil):
            throw fail(node, path, "needs tcp: HOST[:PORT] or rtu: {port: ...}")
        default:
            throw fail(node, path, "has both tcp and rtu: give one")
        }
        var device = DeviceConfig(name: name, endpoint: endpoint)
        let units = Self.units(endpoint)
        if let unit = d["unit"] { device.unit = try integer(unit, "\(path).unit", units) }
        if let interval = d["interval"] { device.interval = try duration(interval, "\(path).interval", within: Self.intervals) }
        if let timeout = d["timeout"] { device.timeout = try duration(timeout, "\(path).timeout", within: Self.timeouts) }
        if let base = d["base"] { device.base = try integer(base, "\(path).base", 0...65533) }
        if let max = d["max_registers"] { device.maxRegisters = try integer(max, "\(path).max_registers", 1...125) }
        if let models = d["models"] {
            guard let list = models.sequence, !list.isEmpty else { throw fail(models, "\(path).models", "expected a list of model ids") }
            var ids = Set<Int>()
            for (k, m) in list.enumerated() { ids.insert(try integer(m, "\(path).models[\(k)]", 1...65534)) }
            device.models = ids
        }
        if let unit = d["export_unit"] { device.exportUnit = try integer(unit, "\(path).export_unit", 1...247) }
        if let profile = d["profile"] {
            let given = try string(profile, "\(path).profile")
            let folder = (file as NSString).deletingLastPathComponent
            let beside = given.hasPrefix("/") ? given : (folder as NSString).appendingPathComponent(given)
            let chosen = FileManager.default.fileExists(atPath: beside) ? beside : given
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: chosen, isDirectory: &isFolder) else {
                throw fail(profile, "\(path).profile", "no profile file '\(given)'")
            }
            guard !isFolder.boolValue else { throw fail(profile, "\(path).profile", "'\(given)' is a folder, not a profile file") }
            for key in ["quirks", "models", "base", "registers"] {
                if let given = d[key] {
                    throw fail(given, "\(path).\(key)", "not used on a profile device: the profile says which registers are read and how")
                }
            }
            let loaded = try Profile.load(path: chosen)
            device.profile = loaded
            if d["unit"] == nil {
                guard units.contains(loaded.defaults.unit) else {
                    throw fail(
                        profile, "\(path).profile",
                        "its default unit \(loaded.defaults.unit) is outside \(units.lowerBound)...\(units.upperBound), the units of \(Self.transport(endpoint)); give unit:"
                    )
                }
                device.unit = loaded.defaults.unit
            }
        }
        if let quirks = d["quirks"] {
            device.quirks = try self.quirks(quirks, "\(path).quirks")
            let onWire = device.unit + device.quirks.unitOffset
            if device.quirks.unitOffset != 0, !units.contains(onWire) {
                throw fail(
                    value(of: "unit_offset", in: quirks), "\(path).quirks.unit_offset",
                    "unit \(device.unit) + unit_offset \(device.quirks.unitOffset) = \(onWire) is outside \(units.lowerBound)...\(units.upperBound), the units of \(Self.transport(endpoint))"
                )
            }
        }
        if let registers = d["registers"] {
            let text = try string(registers, "\(path).registers")
            guard let kind = RegisterKind(rawValue: text) else {
                throw fail(registers, "\(path).registers", "'\(text)' is not holding or input")
            }
            device.registers = kind
        }
        if let control = d["control"] { device.control = try deviceControl(control, "\(path).control", device: device) }
        return device
    }

    /// The unit ids a transport can address: TCP 0...255 (the link frames 248-254 itself), RTU 1...247.
    static func units(_ endpoint: Endpoint) -> ClosedRange<Int> {
        if case .rtu = endpoint { return 1...247 }
        return 0...255
    }

    static func transport(_ endpoint: Endpoint) -> String {
        if case .rtu = endpoint { return "Modbus RTU" }
        return "Modbus TCP"
    }

    /// `19200 8E1`.
    static func lineText(_ s: SerialSettings) -> String { "\(s.baud) \(s.dataBits)\(s.parity.rawValue)\(s.stopBits)" }

    func serial(_ node: Node, _ path: String) throws(ConfigError) -> SerialSettings {
        let r = try mapping(node, path, allowed: ["port", "baud", "parity", "data_bits", "stop_bits"])
        guard let port = r["port"] else { throw fail(node, "\(path).port", "missing") }
        var settings = SerialSettings(port: try string(port, "\(path).port"))
        if let baud = r["baud"] { settings.baud = try integer(baud, "\(path).baud", 300...4_000_000) }
        if let parity = r["parity"] {
            let text = try string(parity, "\(path).parity")
            guard let p = SerialSettings.Parity(rawValue: text.uppercased()) else {
                throw fail(parity, "\(path).parity", "'\(text)' is not N, E or O")
            }
            settings.parity = p
        }
        if let bits = r["data_bits"] { settings.dataBits = try integer(bits, "\(path).data_bits", 5...8) }
        if let bits = r["stop_bits"] { settings.stopBits = try integer(bits, "\(path).stop_bits", 1...2) }
        return settings
    }

    /// `4MiB`, `512KiB`, `1MB`, `1048576`; nil when not a finite size of at most 2^50 bytes.
    static func byteSize(_ text: String) -> Int? {
        let units: [(String, Int)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1),
        ]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let n = Double(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), n.isFinite, n >= 0,
                n * Double(scale) <= 0x1p50
            else { return nil }
            return Int(n * Double(scale))
        }
        return Int(text)
    }
}
