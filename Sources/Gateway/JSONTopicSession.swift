import Captures
import Foundation
import Logging
import MQTT
import SunSpec
import Synchronization

/// The plain JSON topics as an MQTT session: each event rendered into its messages (the same JSON as
/// the stream's lines, without the newline) and kept in a bounded buffer until the client publishes
/// it; the retained state (each device's status, each instance's meta) published again on every
/// connect, so a broker that restarted without persistence has it again before the replay.
final class JSONTopicSession: MQTTEventSession {
    private struct State {
        var buffer: OutboundBuffer<MQTTMessage>
        /// The retained messages now true, by topic.
        var retained: [String: MQTTMessage] = [:]
        /// Each device's meta topics.
        var metaTopics: [String: Set<String>] = [:]
        var connected = false
        var droppedWhileAway = 0
    }

    let topics: JSONTopics
    private let qos: Int
    private let logger: Logger
    private let state: Mutex<State>

    init(settings: MQTTSettings, prefix: String, logger: Logger) {
        topics = JSONTopics(prefix: prefix)
        qos = settings.qos
        self.logger = logger
        state = Mutex(State(buffer: OutboundBuffer(maxItems: settings.bufferMessages, maxBytes: settings.bufferBytes)))
    }

    /// Messages kept, and dropped since the start.
    var buffered: (count: Int, dropped: Int) { state.withLock { ($0.buffer.count, $0.buffer.dropped) } }

    // MARK: - Events

    func take(_ event: GatewayEvent) -> Bool {
        switch event {
        case .status(let status):
            let message = MQTTMessage(
                topic: topics.status(device: status.device), payload: Self.line(StreamRecords.status(status)), qos: qos, retain: true)
            state.withLock { s in
                s.retained[message.topic] = message
                push(message, &s)
            }
        case .discovered(let device, let readings):
            var messages: [MQTTMessage] = []
            var metas = Set<String>()
            for reading in readings {
                let instance = reading.instance
                var json = JSONBuffer(capacity: 4096)
                MetaRecord.append(instance, device: device, to: &json)
                if json.count > 0 {
                    let topic = topics.meta(device: device, model: instance.model.id, index: instance.index)
                    messages.append(MQTTMessage(topic: topic, payload: Self.line(json.bytes), qos: qos, retain: true))
                    metas.insert(topic)
                }
                messages.append(self.message(reading, device: device))
            }
            state.withLock { s in
                // Instances the new map no longer has: their retained meta is cleared (an empty retained message).
                for gone in (s.metaTopics[device] ?? []).subtracting(metas).sorted() {
                    s.retained[gone] = nil
                    push(MQTTMessage(topic: gone, payload: [], qos: qos, retain: true), &s)
                }
                s.metaTopics[device] = metas
                for message in messages {
                    if message.retain { s.retained[message.topic] = message }
                    push(message, &s)
                }
            }
        case .readings(let device, let readings):
            let messages = readings.map { message($0, device: device) }
            state.withLock { s in for message in messages { push(message, &s) } }
        case .registers, .control:
            return false
        }
        return true
    }

    private func message(_ reading: Reading, device: String) -> MQTTMessage {
        var json = JSONBuffer(capacity: 4096)
        ReadingRecord.append(
            reading.instance, device: device, timestamp: reading.timestamp.map { Timestamp.format($0) }, source: reading.source, to: &json)
        let instance = reading.instance
        return MQTTMessage(
            topic: topics.reading(device: device, model: instance.model.id, index: instance.index), payload: Self.line(json.bytes), qos: qos
        )
    }

    private func push(_ message: MQTTMessage, _ s: inout State) {
        let gone = s.buffer.append(message)
        guard gone > 0 else { return }
        if s.droppedWhileAway == 0 {
            logger.warning(
                "mqtt: buffer full (\(s.buffer.maxItems) messages, \(s.buffer.maxBytes) bytes): dropping the oldest readings")
        }
        s.droppedWhileAway += gone
    }

    /// A record without its newline.
    static func line(_ bytes: [UInt8]) -> [UInt8] { bytes.last == 0x0A ? Array(bytes.dropLast()) : bytes }

    // MARK: - MQTTSession (on the client's thread)

    private var online: MQTTMessage { MQTTMessage(topic: topics.gatewayStatus, payload: Array("online".utf8), qos: 1, retain: true) }
    private var offline: MQTTMessage { MQTTMessage(topic: topics.gatewayStatus, payload: Array("offline".utf8), qos: 1, retain: true) }

    func willForNextConnect() -> MQTTMessage? { offline }

    var subscriptions: [String] { [] }

    func connected() -> [MQTTMessage] {
        let (retained, dropped, kept) = state.withLock { s -> ([MQTTMessage], Int, Int) in
            s.connected = true
            defer { s.droppedWhileAway = 0 }
            return (s.retained.values.sorted { $0.topic < $1.topic }, s.droppedWhileAway, s.buffer.count)
        }
        if dropped > 0 { logger.warning("mqtt: \(dropped) messages were dropped while the broker was away (buffer full)") }
        if kept > 0 { logger.info("mqtt: replaying \(kept) messages kept while the broker was away") }
        return [online] + retained
    }

    func disconnected() { state.withLock { $0.connected = false } }

    func next(limit: Int) -> [MQTTMessage] { state.withLock { $0.buffer.removeFirst(upTo: limit) } }

    func received(topic: String, payload: [UInt8]) {}

    func goodbye() -> [MQTTMessage] { [offline] }
}
