/// One message to publish: a topic, its payload, the QoS and whether the broker keeps it (retained).
public struct MQTTMessage: Sendable, Equatable {
    /// The topic (no wildcards).
    public var topic: String
    /// The payload bytes.
    public var payload: [UInt8]
    /// 0 (at most once) or 1 (at least once).
    public var qos: Int
    /// Whether the broker keeps it as the topic's last value for later subscribers.
    public var retain: Bool

    /// Creates a message.
    public init(topic: String, payload: [UInt8], qos: Int = 0, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }

    /// Bytes it takes in a buffer: its topic and payload.
    public var byteCount: Int { topic.utf8.count + payload.count }
}
