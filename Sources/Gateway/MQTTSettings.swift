import MQTT

/// The `mqtt:` section: the broker, the session, and what is published (plain JSON topics under
/// `topic_prefix`, Sparkplug B when `sparkplug` is set, or both).
///
/// ```yaml
/// mqtt:
///   broker: "127.0.0.1:1883"
///   client_id: gw-site1
///   username: gateway               # optional; password_file: /etc/sunspec-gateway/mqtt.pass
///   tls: {ca_file: ca.pem, cert_file: gw.pem, key_file: gw.key}   # optional
///   keepalive: 30s
///   qos: 1
///   topic_prefix: sunspec           # plain JSON topics; omit to publish Sparkplug only
///   sparkplug: {group: site1, node: gw-1, primary_host: scada1}   # optional; primary_host optional
///   buffer: {messages: 100000, bytes: 64MiB}             # kept while the broker is away
/// ```
public struct MQTTSettings: Sendable, Equatable {
    /// Sparkplug B ids: the group and the edge node, and the primary host application, if any.
    public struct Sparkplug: Sendable, Equatable {
        /// `group_id` of the topics.
        public var group: String
        /// `edge_node_id`.
        public var node: String
        /// `host_id` of the primary host application: births (and then data) wait for its
        /// `spBv1.0/STATE/{host_id}` to say online; nil: published on connect.
        public var primaryHost: String?

        /// Creates Sparkplug ids.
        public init(group: String, node: String, primaryHost: String? = nil) {
            self.group = group
            self.node = node
            self.primaryHost = primaryHost
        }
    }

    /// Broker, client id, credentials, keepalive and TLS (the password read from `password_file`).
    public var connection: MQTTOptions
    /// QoS of the plain JSON topics (0 or 1).
    public var qos: Int
    /// First topic level(s) of the plain JSON topics; nil: none published.
    public var topicPrefix: String?
    /// Sparkplug B, if configured.
    public var sparkplug: Sparkplug?
    /// Most messages kept while the broker is away (per session).
    public var bufferMessages: Int
    /// Most bytes kept while the broker is away (per session).
    public var bufferBytes: Int

    /// Creates settings.
    public init(
        connection: MQTTOptions, qos: Int = 1, topicPrefix: String? = "sunspec", sparkplug: Sparkplug? = nil, bufferMessages: Int = 100_000,
        bufferBytes: Int = 64 << 20
    ) {
        self.connection = connection
        self.qos = qos
        self.topicPrefix = topicPrefix
        self.sparkplug = sparkplug
        self.bufferMessages = bufferMessages
        self.bufferBytes = bufferBytes
    }

    /// The client id of the Sparkplug session when plain topics are published too (one Will per
    /// connection: the JSON session's is `offline`, the Sparkplug one's NDEATH).
    public var sparkplugClientID: String {
        topicPrefix == nil ? connection.clientID : connection.clientID + "-spb"
    }
}
