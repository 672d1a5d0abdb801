import Foundation
import Gateway
import MQTT
import Testing

@Suite("Configuration: mqtt")
struct MQTTConfigTests {
    @Test("the documented example parses (the password from its file)")
    func example() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mqtt-config-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { #expect(throws: Never.self) { try FileManager.default.removeItem(at: folder) } }
        try "s3cret\nignored\n".write(to: folder.appendingPathComponent("mqtt.pass"), atomically: true, encoding: .utf8)
        try "PEM".write(to: folder.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
        let yaml = """
            devices:
              - {name: bess-1, tcp: "10.0.0.5:502"}
            mqtt:
              broker: "127.0.0.1:1884"
              client_id: gw-site1
              username: gateway
              password_file: mqtt.pass
              tls: {ca_file: ca.pem}
              keepalive: 30s
              qos: 1
              topic_prefix: sunspec
              sparkplug: {group: site1, node: gw-1}
              buffer: {messages: 1000, bytes: 64MiB}
            """
        let config = try GatewayConfig.parse(yaml, file: folder.appendingPathComponent("gateway.yaml").path)
        let mqtt = try #require(config.mqtt)
        #expect(mqtt.connection.host == "127.0.0.1" && mqtt.connection.port == 1884)
        #expect(mqtt.connection.clientID == "gw-site1" && mqtt.connection.username == "gateway" && mqtt.connection.password == "s3cret")
        #expect(mqtt.connection.tls?.caFile == folder.appendingPathComponent("ca.pem").path)
        #expect(mqtt.connection.keepalive == 30 && mqtt.qos == 1 && mqtt.topicPrefix == "sunspec")
        #expect(mqtt.sparkplug == .init(group: "site1", node: "gw-1") && mqtt.sparkplugClientID == "gw-site1-spb")
        #expect(mqtt.bufferMessages == 1000 && mqtt.bufferBytes == 64 << 20)
    }

    @Test("defaults: port 1883, QoS 1, 100000 messages and 64MiB kept")
    func defaults() throws {
        let config = try GatewayConfig.parse(
            "devices:\n  - {name: a, tcp: h}\nmqtt: {broker: localhost, topic_prefix: sunspec}", file: "f.yaml")
        let mqtt = try #require(config.mqtt)
        #expect(mqtt.connection.port == 1883 && mqtt.connection.clientID == "sunspec-gateway" && mqtt.qos == 1)
        #expect(mqtt.sparkplug == nil && mqtt.bufferMessages == 100_000 && mqtt.bufferBytes == 64 << 20)
        #expect(mqtt.sparkplugClientID == "sunspec-gateway-spb")
    }

    @Test(
        "mistakes name their line and key",
        arguments: [
            ("mqtt: {topic_prefix: s}", "f.yaml:3: mqtt.broker: missing (\"127.0.0.1:1883\")"),
            ("mqtt: {broker: \"h:0\", topic_prefix: s}", "f.yaml:3: mqtt.broker: 'h:0' is not HOST[:PORT]"),
            (
                "mqtt: {broker: h}",
                "f.yaml:3: mqtt: publishes nothing: give topic_prefix: (plain JSON topics), sparkplug: {group, node}, or both"
            ),
            ("mqtt:\n  broker: h\n  topic_prefix: s\n  qos: 2", "f.yaml:6: mqtt.qos: 2 is outside 0...1"),
            ("mqtt:\n  broker: h\n  topic_prefix: s\n  keepalive: 2s", "f.yaml:6: mqtt.keepalive: '2s' is outside 5s...65535s"),
            (
                "mqtt:\n  broker: h\n  topic_prefix: \"a/#\"",
                "f.yaml:5: mqtt.topic_prefix: 'a/#' is not topic levels without + or # (sunspec, site1/gateways)"
            ),
            (
                "mqtt:\n  broker: h\n  sparkplug: {group: a/b, node: n}",
                "f.yaml:5: mqtt.sparkplug.group: 'a/b' is not one topic level (no /, + or #)"
            ),
            ("mqtt:\n  broker: h\n  sparkplug: {group: g}", "f.yaml:5: mqtt.sparkplug.node: missing"),
            (
                "mqtt:\n  broker: h\n  sparkplug: {group: g, node: n, primary_host: \"scada/1\"}",
                "f.yaml:5: mqtt.sparkplug.primary_host: 'scada/1' is not one topic level (no /, + or #): the host_id of spBv1.0/STATE/{host_id}"
            ),
            (
                "mqtt:\n  broker: h\n  sparkplug: {group: g, node: n, host: s}",
                "f.yaml:5: mqtt.sparkplug.host: unknown key (known: group, node, primary_host)"
            ),
            ("mqtt:\n  broker: h\n  topic_prefix: s\n  password_file: p", "f.yaml:6: mqtt.password_file: needs username:"),
            (
                "mqtt:\n  broker: h\n  topic_prefix: s\n  tls: {ca_file: /nonexistent/ca.pem}",
                "f.yaml:6: mqtt.tls.ca_file: no readable file '/nonexistent/ca.pem'"
            ),
            (
                "mqtt:\n  broker: h\n  topic_prefix: s\n  buffer: {bytes: 1KiB}",
                "f.yaml:6: mqtt.buffer.bytes: '1KiB' is not a size from 4KiB to 16GiB (64MiB, 1GiB)"
            ),
            (
                "mqtt:\n  broker: h\n  topic_prefix: s\n  port: 1",
                "f.yaml:6: mqtt.port: unknown key (known: broker, buffer, client_id, keepalive, password_file, qos, sparkplug, tls, topic_prefix, username)"
            ),
        ])
    func mistakes(yaml: String, message: String) {
        let error = #expect(throws: ConfigError.self) {
            try GatewayConfig.parse("devices:\n  - {name: a, tcp: h}\n" + yaml, file: "f.yaml")
        }
        #expect(error?.description == message)
    }

    @Test("sparkplug.primary_host: the host_id whose STATE the births wait for")
    func primaryHost() throws {
        let config = try GatewayConfig.parse(
            "devices:\n  - {name: a, tcp: h}\nmqtt: {broker: h, sparkplug: {group: g, node: n, primary_host: scada1}}", file: "f.yaml")
        #expect(config.mqtt?.sparkplug == .init(group: "g", node: "n", primaryHost: "scada1"))
    }

    @Test("a device name that cannot be a topic level is refused when MQTT is on")
    func deviceNames() {
        let yaml = "devices:\n  - {name: a/b, tcp: h}\nmqtt: {broker: h, topic_prefix: s}"
        let error = #expect(throws: ConfigError.self) { try GatewayConfig.parse(yaml, file: "f.yaml") }
        #expect(error?.description == "f.yaml:3: mqtt: device 'a/b' cannot be a topic level (no /, + or #, not empty): rename it")
        let named = "devices:\n  - {name: gateway, tcp: h}\nmqtt: {broker: h, topic_prefix: s}"
        let clash = #expect(throws: ConfigError.self) { try GatewayConfig.parse(named, file: "f.yaml") }
        #expect(
            clash?.description
                == "f.yaml:3: mqtt: a device named 'gateway' would share {prefix}/gateway/status with the gateway's own: rename it")
    }
}
