/// The plain JSON topics under a prefix.
public struct JSONTopics: Sendable, Equatable {
    /// The first level(s).
    public let prefix: String

    /// Topics under `prefix`.
    public init(prefix: String) { self.prefix = prefix }

    /// `{prefix}/{device}/{model}/{index}`: a model instance's readings.
    public func reading(device: String, model: Int, index: Int) -> String { "\(prefix)/\(device)/\(model)/\(index)" }
    /// `{prefix}/{device}/{model}/{index}/meta` (retained): the instance's meta record.
    public func meta(device: String, model: Int, index: Int) -> String { reading(device: device, model: model, index: index) + "/meta" }
    /// `{prefix}/{device}/status` (retained): the device's latest status record.
    public func status(device: String) -> String { "\(prefix)/\(device)/status" }
    /// `{prefix}/gateway/status` (retained): `online`, or `offline` (the Will).
    public var gatewayStatus: String { "\(prefix)/gateway/status" }
}

/// The Sparkplug B topics of one edge node: `spBv1.0/{group}/{type}/{node}[/{device}]`.
public struct SparkplugTopics: Sendable, Equatable {
    /// The group id.
    public let group: String
    /// The edge node id.
    public let node: String

    /// Topics of `node` in `group`.
    public init(group: String, node: String) {
        self.group = group
        self.node = node
    }

    /// A node message: `NBIRTH`, `NDEATH`, `NCMD`.
    public func node(_ type: String) -> String { "spBv1.0/\(group)/\(type)/\(node)" }
    /// A device message: `DBIRTH`, `DDATA`, `DDEATH`, `DCMD`.
    public func device(_ type: String, _ device: String) -> String { "spBv1.0/\(group)/\(type)/\(node)/\(device)" }
    /// The device a `DCMD` topic is for, or nil when it is not one of this node's.
    public func commandDevice(_ topic: String) -> String? {
        let head = "spBv1.0/\(group)/DCMD/\(node)/"
        guard topic.hasPrefix(head), topic.count > head.count else { return nil }
        return String(topic.dropFirst(head.count))
    }
}
