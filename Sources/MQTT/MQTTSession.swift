/// What an `MQTTClient` publishes, and what it is told, all on the client's own thread: the protocol
/// (plain JSON topics, Sparkplug B) lives behind it, the client only moves messages.
public protocol MQTTSession: AnyObject, Sendable {
    /// The Will of the next CONNECT (called before each attempt), or nil for none.
    func willForNextConnect() -> MQTTMessage?
    /// Topic filters to subscribe to after each connect (QoS 1).
    var subscriptions: [String] { get }
    /// The broker accepted the connection: what to publish first (births, retained state).
    func connected() -> [MQTTMessage]
    /// The connection is gone (the broker went away, or the network).
    func disconnected()
    /// Up to `limit` messages to publish now, in order (the buffer drains through this).
    func next(limit: Int) -> [MQTTMessage]
    /// A message arrived on a subscribed topic.
    func received(topic: String, payload: [UInt8])
    /// What to publish before a clean disconnect at shutdown (a death, `offline`).
    func goodbye() -> [MQTTMessage]
    /// Whether the session asks (once) to say goodbye, disconnect and connect again (asked after each
    /// batch of callbacks while connected).
    func takeRestart() -> Bool
}

extension MQTTSession {
    /// Never asks to restart.
    public func takeRestart() -> Bool { false }
}
