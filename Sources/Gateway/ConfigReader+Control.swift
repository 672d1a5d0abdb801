import Foundation
import Modbus
import Profiles
import SunSpec
import YAMLFiles
import Yams

extension ConfigReader {
    /// Longest ttl limits: 1 s to a day.
    static let maxTTLs: ClosedRange<Duration> = Duration.seconds(1)...Duration.seconds(86_400)
    /// Waits before a read-back: none to a minute.
    static let settles: ClosedRange<Duration> = Duration.zero...Duration.seconds(60)
    /// Shortest intervals between two writes of a point: 1 ms to a day.
    static let minIntervals: ClosedRange<Duration> = Duration.milliseconds(1)...Duration.seconds(86_400)

    /// The top-level `control:`.
    func controlSettings(_ node: Node) throws(ConfigError) -> ControlSettings {
        let c = try mapping(node, "control", allowed: ["socket", "audit", "max_ttl"])
        guard let audit = c["audit"] else {
            throw fail(node, "control.audit", "missing: every control request is audited (audit: /var/lib/sunspec-gateway/audit.jsonl)")
        }
        var settings = ControlSettings(auditPath: try string(audit, "control.audit"))
        if let socket = c["socket"] {
            let s = try mapping(socket, "control.socket", allowed: ["path", "mode"])
            if let path = s["path"] { settings.socketPath = try string(path, "control.socket.path") }
            if let mode = s["mode"] {
                let text = try string(mode, "control.socket.mode")
                guard let m = mode_t(text, radix: 8), m <= 0o777 else {
                    throw fail(mode, "control.socket.mode", "'\(text)' is not an octal file mode (\"0600\")")
                }
                settings.socketMode = m
            }
        }
        if let ttl = c["max_ttl"] { settings.maxTTL = try duration(ttl, "control.max_ttl", within: Self.maxTTLs) }
        return settings
    }

    /// A device's `control:`, every allowed point checked against the device's models (or its profile).
    func deviceControl(_ node: Node, _ path: String, device: DeviceConfig) throws(ConfigError) -> DeviceControl {
        let c = try mapping(node, path, allowed: ["allow", "heartbeat", "export", "write_function", "settle"])
        if device.profile == nil, device.registers == .input {
            throw fail(node, path, "the device is read as input registers (function 4), which cannot be written")
        }
        let catalog = device.profile == nil ? device.quirks.catalog() : .builtin
        guard let allowNode = c["allow"] else { throw fail(node, "\(path).allow", "missing: the points that may be written") }
        let entries = try mapping(allowNode, "\(path).allow", allowed: nil)
        guard entries.count > 0 else { throw fail(allowNode, "\(path).allow", "empty: name at least one point (\"124.WChaMax\": {})") }
        var control = DeviceControl(allow: [])
        for (key, keyNode, value) in entries {
            let allowed = try allowedPoint(key, value, "\(path).allow.\(key)", device: device, catalog: catalog)
            if let same = control.allow.first(where: { $0.path == allowed.path }) {
                throw fail(keyNode, "\(path).allow.\(key)", "names the same point as \(same.path), given before")
            }
            control.allow.append(allowed)
        }
        if let heartbeat = c["heartbeat"] {
            let here = "\(path).heartbeat"
            let point = try controlPoint(try string(heartbeat, here), heartbeat, here, device: device, catalog: catalog)
            let type = point.definition.type
            guard type.isInteger, ![.enum16, .enum32, .bitfield16, .bitfield32, .bitfield64, .sunssf].contains(type) else {
                throw fail(heartbeat, here, "\(point.definition.name) is \(type.rawValue), not an integer; a heartbeat is a counter")
            }
            if control.allowed(point.path) != nil {
                throw fail(heartbeat, here, "\(point.path) is also in allow; the heartbeat is written by the gateway alone")
            }
            control.heartbeat = point.path
            control.heartbeatDefinition = point.definition
            control.heartbeatVendor = point.vendor
        }
        if let export = c["export"] { control.export = try bool(export, "\(path).export") }
        if let function = c["write_function"] {
            let code = try integer(function, "\(path).write_function", 0...255)
            guard let f = WriteFunction(rawValue: code) else {
                throw fail(function, "\(path).write_function", "\(code) is not 16 (write multiple registers) or 6 (write single register)")
            }
            control.writeFunction = f
        }
        if let settle = c["settle"] { control.settle = try duration(settle, "\(path).settle", within: Self.settles) }
        return control
    }

    // MARK: - Points

    /// A point that may be written: parsed, found, read-write, not text or a scale factor; on a
    /// profile device, mapped from a writable register.
    private func controlPoint(
        _ text: String, _ node: Node, _ here: String, device: DeviceConfig, catalog: ModelCatalog
    ) throws(ConfigError) -> (path: PointPath, definition: PointDefinition, model: ModelDefinition, vendor: VendorWriteTarget?) {
        let path: PointPath
        do { path = try PointPath(parsing: text) } catch { throw fail(node, here, error.message) }
        let model: ModelDefinition
        if let profile = device.profile {
            guard let mapped = profile.models.first(where: { $0.definition.id == path.model }) else {
                throw fail(
                    node, here,
                    "profile \(profile.name) maps no model \(path.model) (it maps \(profile.models.map { "\($0.definition.id)" }.joined(separator: ", ")))"
                )
            }
            model = mapped.definition
        } else {
            guard let found = catalog.definition(for: path.model) else {
                throw fail(node, here, "model \(path.model) is not a known model")
            }
            if let polled = device.models, !polled.contains(path.model) {
                throw fail(
                    node, here, "model \(path.model) is not polled (models: \(polled.sorted())), so its scale factors are never read")
            }
            model = found
        }
        let definition: PointDefinition
        do { definition = try model.point(at: path) } catch { throw fail(node, here, error.message) }
        switch definition.type {
        case .string, .ipaddr, .ipv6addr, .eui48:
            throw fail(node, here, "\(definition.name) is a \(definition.type.rawValue) point; text points are not written")
        case .sunssf:
            throw fail(node, here, "\(definition.name) is a scale factor; the gateway never changes a scale factor")
        case .pad:
            throw fail(node, here, "\(definition.name) is padding")
        default: break
        }
        guard definition.access == .readWrite else {
            throw fail(node, here, "\(definition.name) is read-only (access R in model \(model.id))")
        }
        var vendor: VendorWriteTarget?
        if let profile = device.profile {
            do { vendor = try profile.writeTarget(for: path) } catch { throw fail(node, here, error.message) }
        }
        return (path, definition, model, vendor)
    }

    /// One entry of `allow:`: the point and its limits (`min`, `max`, `values`, `revert`, `min_interval`).
    private func allowedPoint(
        _ key: String, _ node: Node, _ here: String, device: DeviceConfig, catalog: ModelCatalog
    ) throws(ConfigError) -> AllowedPoint {
        let point = try controlPoint(key, node, here, device: device, catalog: catalog)
        let definition = point.definition
        let limits: YAMLMapping? =
            node.null != nil ? nil : try mapping(node, here, allowed: ["min", "max", "values", "revert", "min_interval"])
        let isEnum = definition.type == .enum16 || definition.type == .enum32
        let isBitfield = [.bitfield16, .bitfield32, .bitfield64].contains(definition.type)
        var low: ExactDecimal?
        var high: ExactDecimal?
        for (name, _, value) in limits?.entries ?? [] where name == "min" || name == "max" {
            guard !isEnum && !isBitfield else {
                throw fail(value, "\(here).\(name)", "\(definition.name) is a \(definition.type.rawValue) point; limit it with values:")
            }
            let d = try decimal(value, "\(here).\(name)")
            if name == "min" { low = d } else { high = d }
        }
        if let low, let high, low > high {
            throw fail(limits?["max"], "\(here).max", "\(high) is below min \(low)")
        }
        var values: [String]?
        if let list = limits?["values"] {
            guard isEnum else {
                throw fail(list, "\(here).values", "\(definition.name) is a \(definition.type.rawValue) point; values: is for enum points")
            }
            guard let items = list.sequence, !items.isEmpty else {
                throw fail(list, "\(here).values", "expected a list of symbols of \(definition.name)")
            }
            var names: [String] = []
            for (i, item) in items.enumerated() {
                let symbol = try string(item, "\(here).values[\(i)]")
                guard definition.symbols.contains(where: { $0.name == symbol }) else {
                    throw fail(
                        item, "\(here).values[\(i)]",
                        "\(symbol) is not a symbol of \(definition.name) (\(definition.symbols.map(\.name).joined(separator: ", ")))")
                }
                guard !names.contains(symbol) else { throw fail(item, "\(here).values[\(i)]", "\(symbol) is given twice") }
                names.append(symbol)
            }
            values = names
        }
        var revert: SetpointValue?
        if let node = limits?["revert"] {
            revert = try self.revert(node, "\(here).revert", point: point, min: low, max: high, values: values)
        }
        var minInterval: Duration?
        if let interval = limits?["min_interval"] {
            minInterval = try duration(interval, "\(here).min_interval", within: Self.minIntervals)
        }
        return AllowedPoint(
            path: point.path, definition: definition, model: point.model, min: low, max: high, values: values, revert: revert,
            minInterval: minInterval, vendor: point.vendor)
    }

    /// A `revert:` value: a legal value of the point, inside [min, max] and `values`.
    private func revert(
        _ node: Node, _ here: String,
        point: (path: PointPath, definition: PointDefinition, model: ModelDefinition, vendor: VendorWriteTarget?),
        min low: ExactDecimal?, max high: ExactDecimal?, values: [String]?
    ) throws(ConfigError) -> SetpointValue {
        let definition = point.definition
        let text = try string(node, here)
        let value: SetpointValue = ExactDecimal(parsing: text).map { .number($0) } ?? .symbol(text)
        if case .number(let d) = value {
            if let low, d < low { throw fail(node, here, "\(d) is below min \(low)") }
            if let high, d > high { throw fail(node, here, "\(d) is above max \(high)") }
        }
        if let values {
            let symbol: String? =
                switch value {
                case .symbol(let s): s
                case .number(let d): definition.symbols.first { ExactDecimal($0.value, exponent: 0) == d }?.name
                }
            guard let symbol, values.contains(symbol) else { throw fail(node, here, "\(value) is not one of values \(values)") }
        }
        // The value must encode: at the point's constant scale factor (or none), or through the profile's register.
        do {
            if let vendor = point.vendor {
                _ = try vendor.encode(value, point: definition)
            } else {
                switch definition.scaleFactor {
                case nil: _ = try SetpointEncoding.encode(value, point: definition, scaleFactor: nil)
                case .constant(let n)?: _ = try SetpointEncoding.encode(value, point: definition, scaleFactor: n)
                case .point?:
                    // The device's scale factor is read at run time; at least the value must be a number.
                    guard case .number = value else {
                        throw SetpointError.outOfRange("\(definition.name) is a number; '\(value)' is not one")
                    }
                }
            }
        } catch {
            throw fail(node, here, "\(value) cannot be written to \(definition.name): \(error)")
        }
        return value
    }

    /// A number written exactly as a decimal (`50000`, `-12.5`, `1e3`).
    private func decimal(_ node: Node, _ path: String) throws(ConfigError) -> ExactDecimal {
        guard node.null == nil, let text = node.scalar?.string, let d = ExactDecimal(parsing: text) else {
            throw fail(node, path, "expected a number (50000, -12.5)")
        }
        return d
    }
}
