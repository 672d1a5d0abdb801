import Foundation
import MQTT
import YAMLFiles
import Yams

extension ConfigReader {
    /// Keepalives libmosquitto takes: 5 s (it refuses less) to 18 h (MQTT's 65535 s).
    static let keepalives: ClosedRange<Duration> = Duration.seconds(5)...Duration.seconds(65_535)

    /// The `mqtt:` section, checked against the devices whose names become topic levels.
    func mqtt(_ node: Node, devices: [DeviceConfig]) throws(ConfigError) -> MQTTSettings {
        let m = try mapping(
            node, "mqtt",
            allowed: ["broker", "client_id", "username", "password_file", "tls", "keepalive", "qos", "topic_prefix", "sparkplug", "buffer"])
        guard let brokerNode = m["broker"] else { throw fail(node, "mqtt.broker", "missing (\"127.0.0.1:1883\")") }
        var tls: MQTTOptions.TLS?
        if let t = m["tls"] { tls = try self.tls(t) }
        let brokerText = try string(brokerNode, "mqtt.broker")
        guard let hostPort = Self.broker(brokerText, defaultPort: tls == nil ? 1883 : 8883) else {
            throw fail(brokerNode, "mqtt.broker", "'\(brokerText)' is not HOST[:PORT]")
        }
        var clientID = "sunspec-gateway"
        if let id = m["client_id"] {
            clientID = try string(id, "mqtt.client_id")
            guard !clientID.isEmpty, clientID.utf8.count <= 200 else { throw fail(id, "mqtt.client_id", "expected 1 to 200 bytes") }
        }
        var options = MQTTOptions(host: hostPort.0, port: hostPort.1, clientID: clientID, tls: tls)
        if let user = m["username"] { options.username = try string(user, "mqtt.username") }
        if let file = m["password_file"] {
            guard options.username != nil else { throw fail(file, "mqtt.password_file", "needs username:") }
            options.password = try password(file)
        }
        if let keepalive = m["keepalive"] {
            options.keepalive = Int(try duration(keepalive, "mqtt.keepalive", within: Self.keepalives).components.seconds)
        }
        var settings = MQTTSettings(connection: options, topicPrefix: nil)
        if let qos = m["qos"] { settings.qos = try integer(qos, "mqtt.qos", 0...1) }
        if let prefix = m["topic_prefix"] {
            let text = try string(prefix, "mqtt.topic_prefix")
            let levels = text.split(separator: "/", omittingEmptySubsequences: false)
            guard !text.isEmpty, levels.allSatisfy({ Self.isTopicLevel($0) }) else {
                throw fail(prefix, "mqtt.topic_prefix", "'\(text)' is not topic levels without + or # (sunspec, site1/gateways)")
            }
            settings.topicPrefix = text
        }
        if let spb = m["sparkplug"] {
            let s = try mapping(spb, "mqtt.sparkplug", allowed: ["group", "node", "primary_host"])
            var ids: [String] = []
            for key in ["group", "node"] {
                guard let v = s[key] else { throw fail(spb, "mqtt.sparkplug.\(key)", "missing") }
                let text = try string(v, "mqtt.sparkplug.\(key)")
                guard Self.isTopicLevel(text[...]) else {
                    throw fail(v, "mqtt.sparkplug.\(key)", "'\(text)' is not one topic level (no /, + or #)")
                }
                ids.append(text)
            }
            settings.sparkplug = .init(group: ids[0], node: ids[1])
            if let host = s["primary_host"] {
                let text = try string(host, "mqtt.sparkplug.primary_host")
                guard Self.isTopicLevel(text[...]) else {
                    throw fail(
                        host, "mqtt.sparkplug.primary_host",
                        "'\(text)' is not one topic level (no /, + or #): the host_id of spBv1.0/STATE/{host_id}")
                }
                settings.sparkplug?.primaryHost = text
            }
        }
        guard settings.topicPrefix != nil || settings.sparkplug != nil else {
            throw fail(node, "mqtt", "publishes nothing: give topic_prefix: (plain JSON topics), sparkplug: {group, node}, or both")
        }
        if let buffer = m["buffer"] {
            let b = try mapping(buffer, "mqtt.buffer", allowed: ["messages", "bytes"])
            if let n = b["messages"] { settings.bufferMessages = try integer(n, "mqtt.buffer.messages", 1...100_000_000) }
            if let n = b["bytes"] {
                let text = try string(n, "mqtt.buffer.bytes")
                guard let bytes = Self.byteSize(text), (4096...(16 << 30)).contains(bytes) else {
                    throw fail(n, "mqtt.buffer.bytes", "'\(text)' is not a size from 4KiB to 16GiB (64MiB, 1GiB)")
                }
                settings.bufferBytes = bytes
            }
        }
        for device in devices where !Self.isTopicLevel(device.name[...]) {
            throw fail(node, "mqtt", "device '\(device.name)' cannot be a topic level (no /, + or #, not empty): rename it")
        }
        if settings.topicPrefix != nil, devices.contains(where: { $0.name == "gateway" }) {
            throw fail(node, "mqtt", "a device named 'gateway' would share {prefix}/gateway/status with the gateway's own: rename it")
        }
        return settings
    }

    func tls(_ node: Node) throws(ConfigError) -> MQTTOptions.TLS {
        let t = try mapping(node, "mqtt.tls", allowed: ["ca_file", "cert_file", "key_file"])
        var files: [String: String] = [:]
        for key in ["ca_file", "cert_file", "key_file"] {
            guard let v = t[key] else { continue }
            let path = try string(v, "mqtt.tls.\(key)")
            let full = path.hasPrefix("/") ? path : ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent(path)
            guard FileManager.default.isReadableFile(atPath: full) else { throw fail(v, "mqtt.tls.\(key)", "no readable file '\(path)'") }
            files[key] = full
        }
        guard let ca = files["ca_file"] else { throw fail(node, "mqtt.tls.ca_file", "missing") }
        guard (files["cert_file"] == nil) == (files["key_file"] == nil) else {
            throw fail(node, "mqtt.tls", "cert_file and key_file go together")
        }
        return .init(caFile: ca, certFile: files["cert_file"], keyFile: files["key_file"])
    }

    /// The password: the file's first line.
    func password(_ node: Node) throws(ConfigError) -> String {
        let path = try string(node, "mqtt.password_file")
        let full = path.hasPrefix("/") ? path : ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent(path)
        guard let data = FileManager.default.contents(atPath: full), let text = String(data: data, encoding: .utf8) else {
            throw fail(node, "mqtt.password_file", "cannot read '\(path)'")
        }
        return String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    /// `host`, `host:port`; nil for an empty host or a port outside 1...65535.
    static func broker(_ text: String, defaultPort: Int) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":") else { return text.isEmpty ? nil : (text, defaultPort) }
        let host = String(text[..<colon])
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        return (host, port)
    }

    /// One MQTT topic level the gateway may publish under: not empty, no `/`, `+`, `#` or NUL.
    static func isTopicLevel(_ text: Substring) -> Bool {
        !text.isEmpty && !text.contains { $0 == "/" || $0 == "+" || $0 == "#" || $0 == "\0" }
    }
}
