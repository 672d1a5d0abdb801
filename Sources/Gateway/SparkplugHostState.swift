import Foundation

/// A Sparkplug B 3.0 STATE message of a host application, `spBv1.0/STATE/{host_id}`: retained JSON,
/// `{"online":true,"timestamp":1668114759262}` (the timestamp in ms since the epoch, UTC), both
/// required.
struct SparkplugHostState: Equatable, Decodable {
    /// Whether the host application says it is online.
    let online: Bool
    /// When it said so (ms since the epoch): a STATE older than the last one taken is stale.
    let timestamp: UInt64

    /// The topic of `host`'s STATE.
    static func topic(host: String) -> String { "spBv1.0/STATE/\(host)" }

    init(online: Bool, timestamp: UInt64) {
        self.online = online
        self.timestamp = timestamp
    }

    /// The STATE of a payload; throws `DecodingError` unless it is a JSON object with a Boolean
    /// `online` and an integer `timestamp` from 0.
    init(payload: [UInt8]) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(payload))
    }
}
