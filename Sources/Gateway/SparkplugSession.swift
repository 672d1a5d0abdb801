import Foundation
import Logging
import MQTT
import SunSpec
import Synchronization

/// What the Sparkplug session keeps to publish, encoded (with its `seq`) only when published.
enum SparkplugOutbound: BufferedItem {
    /// A device's DBIRTH, from its state when published.
    case birth(String)
    /// Changed metrics of a device; `historical` once kept across a reconnect.
    case data(String, [SparkplugMetric])
    /// A device's DDEATH.
    case death(String)

    var byteCount: Int {
        switch self {
        case .birth(let d), .death(let d): d.utf8.count + 16
        case .data(let d, let metrics): metrics.reduce(d.utf8.count + 16) { $0 + $1.name.utf8.count + 24 }
        }
    }
}

/// Sparkplug B 3.0 as an MQTT session: one edge node (the gateway), one Sparkplug device per gateway
/// device. NDEATH is each CONNECT's Will, with a `bdSeq` one more per CONNECT; on connect, NBIRTH
/// (`bdSeq`, `Node Control/Rebirth`) and a DBIRTH for every device online; DBIRTH again when a
/// device's map is found; DDATA with the metrics that changed (report by exception, each with its
/// reading's timestamp); DDEATH when a device goes offline or is discovered again. `seq` counts
/// 0-255 from the NBIRTH. DDATA kept while the broker is away goes out after the births, marked
/// `is_historical`. NCMD `Node Control/Rebirth` is answered with new births; DCMD goes to
/// `deviceCommand` (the control pipeline, `SparkplugDeviceControl`), and is refused without one.
///
/// With a primary host application (Sparkplug 3.0), the session subscribes to its STATE and, on every
/// connection, publishes the births (and then data) only once a STATE says online; a STATE older than
/// the last taken is ignored; an offline STATE after the births asks the client to publish NDEATH,
/// disconnect and connect again (`takeRestart`), to wait for online again.
final class SparkplugSession: MQTTEventSession {
    /// A device as last published: its metrics in birth order, each with its latest value, and where
    /// each model instance's metrics are, so a poll is compared by position without making names.
    struct Device {
        /// A model instance: its model ID and its index among the instances of that model.
        struct Instance: Hashable {
            let model: Int
            let index: Int
            init(_ reading: Reading) {
                model = reading.instance.model.id
                index = reading.instance.index
            }
        }

        private(set) var metrics: [SparkplugMetric] = []
        private var spans: [Instance: Range<Int>] = [:]
        private var positions: [String: Int] = [:]
        /// Each instance's model as last compared: a poll with the same values is not compared again.
        private(set) var lastModels: [Instance: DecodedModel] = [:]

        /// The metrics of a discovery's readings, in order (a name seen twice is kept once).
        init(readings: [Reading]) {
            for reading in readings {
                let start = metrics.count
                for metric in SparkplugMetrics.metrics(of: reading) where positions[metric.name] == nil {
                    positions[metric.name] = metrics.count
                    metrics.append(metric)
                }
                spans[Instance(reading)] = start..<metrics.count
                lastModels[Instance(reading)] = reading.instance.model
            }
        }

        /// The readings of a poll whose model did not decode to the same values as last time (as far
        /// as `lastModels` says), with their values.
        static func polled(_ readings: [Reading], since last: [Instance: DecodedModel]) -> [(reading: Reading, values: [SparkplugValue?])] {
            readings.compactMap { reading in
                if let old = last[Instance(reading)], old.hasSameValues(as: reading.instance.model) { return nil }
                return (reading, SparkplugMetrics.values(of: reading))
            }
        }

        /// Takes a poll's readings with their values (`SparkplugMetrics.values(of:)`): the metrics
        /// whose value changed, each stamped with its reading's time, are kept as the latest and returned.
        mutating func changes(_ polled: [(reading: Reading, values: [SparkplugValue?])]) -> [SparkplugMetric] {
            var changed: [SparkplugMetric] = []
            for (reading, values) in polled {
                lastModels[Instance(reading)] = reading.instance.model
                let timestamp = reading.timestamp.map(SparkplugMetrics.milliseconds)
                if let span = spans[Instance(reading)], span.count == values.count {
                    for (k, value) in values.enumerated() where metrics[span.lowerBound + k].value != value {
                        changed.append(update(span.lowerBound + k, value, timestamp))
                    }
                } else {
                    // Not laid out as at its birth (a group count that moved): matched by name.
                    for metric in SparkplugMetrics.metrics(of: reading) {
                        guard let i = positions[metric.name], metrics[i].value != metric.value else { continue }
                        changed.append(update(i, metric.value, timestamp))
                    }
                }
            }
            return changed
        }

        private mutating func update(_ i: Int, _ value: SparkplugValue?, _ timestamp: UInt64?) -> SparkplugMetric {
            metrics[i].value = value
            metrics[i].timestamp = timestamp
            return SparkplugMetric(name: metrics[i].name, timestamp: timestamp, datatype: metrics[i].datatype, value: value)
        }
    }

    private struct State {
        var pending: OutboundBuffer<SparkplugOutbound>
        /// Devices with a map (online), by name.
        var devices: [String: Device] = [:]
        var nextBdSeq: UInt64 = 0
        var bdSeq: UInt64 = 0
        var seq: UInt64 = 0
        var rebirth = false
        var droppedWhileAway = 0
        /// Connected, the births not yet published: they wait for the primary host.
        var birthsDue = false
        /// On this connection, the primary host's last STATE taken said online.
        var hostOnline = false
        /// The timestamp of the last STATE taken, on any connection.
        var hostTimestamp: UInt64?
        /// The primary host went offline after the births: NDEATH, disconnect, connect again.
        var restart = false
    }

    /// What a DCMD does (on the MQTT client's thread: it must not wait): nil without a `control:`
    /// section, and a DCMD is refused and logged. It gets the topic, the device and the command.
    typealias DeviceCommands = @Sendable (_ topic: String, _ device: String, _ command: SparkplugCommand) -> Void

    let topics: SparkplugTopics
    /// The primary host application's `host_id`, if any.
    let primaryHost: String?
    private let order: [String]
    private let logger: Logger
    private let state: Mutex<State>
    private let deviceCommand: DeviceCommands?
    private let now: @Sendable () -> Date

    /// Messages kept, and dropped since the start.
    var buffered: (count: Int, dropped: Int) { state.withLock { ($0.pending.count, $0.pending.dropped) } }

    init(
        settings: MQTTSettings, ids: MQTTSettings.Sparkplug, devices: [String], logger: Logger, deviceCommand: DeviceCommands? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        topics = SparkplugTopics(group: ids.group, node: ids.node)
        primaryHost = ids.primaryHost
        order = devices
        self.logger = logger
        self.deviceCommand = deviceCommand
        self.now = now
        state = Mutex(State(pending: OutboundBuffer(maxItems: settings.bufferMessages, maxBytes: settings.bufferBytes)))
    }

    // MARK: - Events

    func take(_ event: GatewayEvent) -> Bool {
        switch event {
        case .status(let status):
            guard status.state != .online else { return false }
            return state.withLock { s -> Bool in
                guard s.devices.removeValue(forKey: status.device) != nil else { return false }
                push(.death(status.device), &s)
                return true
            }
        case .discovered(let device, let readings):
            let born = Device(readings: readings)
            state.withLock { s in
                s.devices[device] = born
                push(.birth(device), &s)
            }
            return true
        case .readings(let device, let readings):
            // Compared outside the lock (other devices' polls take it too), applied under it.
            guard let last = state.withLock({ $0.devices[device]?.lastModels }) else { return false }
            let polled = Device.polled(readings, since: last)
            guard !polled.isEmpty else { return false }
            return state.withLock { s -> Bool in
                // Changed in place: the device's metrics are not copied each poll.
                guard let changed = s.devices[device]?.changes(polled), !changed.isEmpty else { return false }
                push(.data(device, changed), &s)
                return true
            }
        case .registers, .control:
            return false
        }
    }

    private func push(_ item: SparkplugOutbound, _ s: inout State) {
        let gone = s.pending.append(item)
        guard gone > 0 else { return }
        if s.droppedWhileAway == 0 { logger.warning("mqtt: Sparkplug buffer full: dropping the oldest DDATA") }
        s.droppedWhileAway += gone
    }

    // MARK: - Payloads

    private func stamp() -> UInt64 { SparkplugMetrics.milliseconds(now()) }

    private func nextSeq(_ s: inout State) -> UInt64 {
        defer { s.seq = (s.seq + 1) % 256 }
        return s.seq
    }

    /// NBIRTH (seq 0) and a DBIRTH for every device online, in the config's order.
    private func births(_ s: inout State) -> [MQTTMessage] {
        s.seq = 0
        let nbirth = SparkplugPayload(
            timestamp: stamp(),
            metrics: [
                SparkplugMetric(name: "bdSeq", timestamp: stamp(), datatype: .int64, value: .long(s.bdSeq)),
                SparkplugMetric(name: "Node Control/Rebirth", timestamp: stamp(), datatype: .boolean, value: .boolean(false)),
            ], seq: nextSeq(&s))
        var out = [MQTTMessage(topic: topics.node("NBIRTH"), payload: nbirth.encoded())]
        for device in order where s.devices[device] != nil { out.append(birth(device, &s)) }
        return out
    }

    private func birth(_ device: String, _ s: inout State) -> MQTTMessage {
        let metrics = s.devices[device]?.metrics ?? []
        let payload = SparkplugPayload(timestamp: stamp(), metrics: metrics, seq: nextSeq(&s))
        return MQTTMessage(topic: topics.device("DBIRTH", device), payload: payload.encoded())
    }

    private func encode(_ item: SparkplugOutbound, _ s: inout State) -> MQTTMessage? {
        switch item {
        case .birth(let device):
            guard s.devices[device] != nil else { return nil }
            return birth(device, &s)
        case .data(let device, let metrics):
            guard s.devices[device] != nil else { return nil }
            let payload = SparkplugPayload(timestamp: stamp(), metrics: metrics, seq: nextSeq(&s))
            return MQTTMessage(topic: topics.device("DDATA", device), payload: payload.encoded())
        case .death(let device):
            let payload = SparkplugPayload(timestamp: stamp(), seq: nextSeq(&s))
            return MQTTMessage(topic: topics.device("DDEATH", device), payload: payload.encoded())
        }
    }

    private func death(bdSeq: UInt64) -> MQTTMessage {
        let payload = SparkplugPayload(
            timestamp: stamp(), metrics: [SparkplugMetric(name: "bdSeq", timestamp: stamp(), datatype: .int64, value: .long(bdSeq))])
        return MQTTMessage(topic: topics.node("NDEATH"), payload: payload.encoded(), qos: 1)
    }

    // MARK: - MQTTSession (on the client's thread)

    /// The NDEATH of the next CONNECT: its `bdSeq` is one more than the last connection the broker
    /// accepted (attempts that never reached it, the broker down, reuse the value).
    func willForNextConnect() -> MQTTMessage? {
        let bdSeq = state.withLock { s -> UInt64 in
            s.bdSeq = s.nextBdSeq
            return s.bdSeq
        }
        return death(bdSeq: bdSeq)
    }

    var subscriptions: [String] {
        [topics.node("NCMD"), topics.device("DCMD", "+")] + (primaryHost.map { [SparkplugHostState.topic(host: $0)] } ?? [])
    }

    func connected() -> [MQTTMessage] {
        let waiting = state.withLock { s -> Bool in
            s.nextBdSeq = (s.bdSeq + 1) % 256
            s.hostOnline = false
            s.restart = false
            s.birthsDue = primaryHost != nil
            return s.birthsDue
        }
        if waiting, let primaryHost {
            logger.info("mqtt: Sparkplug births wait for the primary host \(primaryHost) to be online (spBv1.0/STATE/\(primaryHost))")
            return []
        }
        return birthsWithHistory()
    }

    /// The births, then what was kept of DDATA as history (logged).
    private func birthsWithHistory() -> [MQTTMessage] {
        let (out, kept, dropped) = state.withLock { s -> ([MQTTMessage], Int, Int) in
            // Births say what is true now; what was kept of DDATA follows them as history.
            let online = s.devices
            s.pending.filter { item in
                guard case .data(let d, _) = item else { return false }
                return online[d] != nil
            }
            s.pending.update { item in
                if case .data(let d, let metrics) = item {
                    item = .data(
                        d,
                        metrics.map { m in
                            var m = m
                            m.isHistorical = true
                            return m
                        })
                }
            }
            s.rebirth = false
            s.birthsDue = false
            defer { s.droppedWhileAway = 0 }
            return (births(&s), s.pending.count, s.droppedWhileAway)
        }
        if dropped > 0 { logger.warning("mqtt: \(dropped) Sparkplug messages were dropped while the broker was away (buffer full)") }
        if kept > 0 { logger.info("mqtt: sending \(kept) DDATA kept before the births, as historical") }
        return out
    }

    func disconnected() {}

    func next(limit: Int) -> [MQTTMessage] {
        let due = state.withLock { s -> Bool? in
            guard s.birthsDue else { return false }
            return s.hostOnline ? true : nil
        }
        // Waiting for the primary host: nothing goes out, everything is kept.
        guard let due else { return [] }
        let born = due ? birthsWithHistory() : []
        return born + pending(limit: limit - born.count)
    }

    /// Up to `limit` of what is kept, encoded; the births first after a Rebirth command.
    private func pending(limit: Int) -> [MQTTMessage] {
        state.withLock { s -> [MQTTMessage] in
            var out: [MQTTMessage] = []
            if s.rebirth {
                s.rebirth = false
                s.pending.filter { item in
                    guard case .data = item else { return false }
                    return true
                }
                out = births(&s)
            }
            while out.count < limit, let item = s.pending.removeFirst() {
                if let message = encode(item, &s) { out.append(message) }
            }
            return out
        }
    }

    func takeRestart() -> Bool {
        state.withLock { s in
            defer { s.restart = false }
            return s.restart
        }
    }

    func received(topic: String, payload: [UInt8]) {
        if let primaryHost, topic == SparkplugHostState.topic(host: primaryHost) {
            hostState(payload, host: primaryHost)
        } else if topic == topics.node("NCMD") {
            guard let command = SparkplugCommand(payload: payload), command.asksRebirth else {
                logger.warning("mqtt: NCMD refused: only Node Control/Rebirth is taken")
                return
            }
            logger.info("mqtt: NCMD Node Control/Rebirth: publishing births again")
            state.withLock { $0.rebirth = true }
        } else if let device = topics.commandDevice(topic) {
            guard let command = SparkplugCommand(payload: payload) else {
                logger.warning("mqtt: DCMD for \(device) refused: the payload is not a Sparkplug B payload (\(payload.count) bytes)")
                return
            }
            guard let deviceCommand else {
                let names = command.metrics.compactMap(\.name).joined(separator: ", ")
                logger.warning(
                    "mqtt: DCMD for \(device) refused (\(names)): writes go through the control pipeline, and there is no control: section")
                return
            }
            deviceCommand(topic, device, command)
        }
    }

    /// A STATE of the primary host: a newer one (or the same again, retained) is taken; online lets the
    /// births go out, offline after them asks for a restart.
    private func hostState(_ payload: [UInt8], host: String) {
        let taken: SparkplugHostState
        do {
            taken = try SparkplugHostState(payload: payload)
        } catch {
            logger.warning("mqtt: STATE of \(host) ignored: not {\"online\":BOOL,\"timestamp\":MS} (\(error))")
            return
        }
        enum Outcome { case stale(UInt64), online, offlineAfterBirths, offline, same }
        let outcome = state.withLock { s -> Outcome in
            if let last = s.hostTimestamp, taken.timestamp < last { return .stale(last) }
            s.hostTimestamp = taken.timestamp
            guard taken.online != s.hostOnline else { return .same }
            s.hostOnline = taken.online
            if taken.online { return .online }
            if s.birthsDue { return .offline }
            s.restart = true
            return .offlineAfterBirths
        }
        switch outcome {
        case .stale(let last):
            logger.info("mqtt: STATE of \(host) ignored: timestamp \(taken.timestamp) is older than \(last)")
        case .online: logger.info("mqtt: primary host \(host) online: publishing the Sparkplug births")
        case .offline: logger.info("mqtt: primary host \(host) offline: the Sparkplug births wait")
        case .offlineAfterBirths:
            logger.warning("mqtt: primary host \(host) offline: publishing NDEATH, reconnecting to wait for it")
        case .same: break
        }
    }

    func goodbye() -> [MQTTMessage] { [death(bdSeq: state.withLock { $0.bdSeq })] }
}
