import Captures
import Foundation
import NIOCore
import SunSpec
import Synchronization

/// Someone the stream's records go to: a socket connection, or a test's recorder.
public protocol Subscriber: AnyObject, Sendable {
    /// Queues one record (or a batch of lines) for the subscriber; never blocks.
    func send(_ buffer: ByteBuffer)
    /// Queues the snapshot a new subscriber starts with, in parts: always delivered, whatever its
    /// size (the queue limit is for a backlog building up after it).
    func sendSnapshot(_ parts: [ByteBuffer])
    /// Writes what is queued, then ends the subscription (shutdown); returns once it has ended.
    func finish() async
}

/// What became of a subscription.
public enum Subscription: Sendable, Equatable {
    /// Subscribed: the snapshot is on its way, live records follow.
    case subscribed
    /// Refused: `limit` subscribers are connected already (nothing was sent).
    case full
    /// Refused: the stream has ended (shutdown).
    case ended
}

/// The fan-out at the heart of the stream, and the stream's sink: it renders each event into its
/// NDJSON lines once, keeps what a new subscriber needs (the hello, each device's status, its meta
/// records and the latest reading of every model instance, all as rendered bytes) and hands every
/// new record to every subscriber. Rendering happens before the lock is taken; under it, records are
/// only stored and queued. Publishing never waits for a subscriber: each has its own bounded queue
/// (see `SubscriberConnection`).
public final class Hub: GatewaySink {
    private struct State {
        var status: [String: ByteBuffer] = [:]
        /// Each model instance's meta record, by device and address.
        var meta: [String: [Int: ByteBuffer]] = [:]
        var readings: [String: [Int: ByteBuffer]] = [:]
        var subscribers: [ObjectIdentifier: any Subscriber] = [:]
        var finished = false
    }

    private let devices: [String]
    private let hello: ByteBuffer
    private let state = Mutex(State())
    private let allocator = ByteBufferAllocator()

    /// A hub for these devices (named in the hello record, in this order).
    public init(devices: [String]) {
        self.devices = devices
        hello = allocator.buffer(bytes: StreamRecords.hello(devices: devices))
    }

    /// Subscribers connected now.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Adds a subscriber and sends it, in order: hello, each device's status, the meta records, the
    /// latest readings. Live records follow with no gap and no repeat. Nothing is sent when `limit`
    /// subscribers are connected already, or the stream has ended.
    @discardableResult
    public func subscribe(_ subscriber: any Subscriber, limit: Int = .max) -> Subscription {
        state.withLock { s in
            guard !s.finished else { return .ended }
            guard s.subscribers.count < limit else { return .full }
            // References to the rendered records, in order: no rendering and no copying here.
            var parts = [hello]
            for device in devices { if let status = s.status[device] { parts.append(status) } }
            for device in devices { parts += Self.inOrder(s.meta[device]) }
            for device in devices { parts += Self.inOrder(s.readings[device]) }
            subscriber.sendSnapshot(parts)
            s.subscribers[ObjectIdentifier(subscriber)] = subscriber
            return .subscribed
        }
    }

    /// Removes a subscriber (its connection closed).
    public func unsubscribe(_ subscriber: any Subscriber) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: ObjectIdentifier(subscriber)) }
    }

    public func receive(_ event: GatewayEvent) {
        switch event {
        case .status(let status): publish(status)
        case .discovered(let device, let readings): publish(device: device, readings: readings, withMeta: true)
        case .readings(let device, let readings): publish(device: device, readings: readings, withMeta: false)
        case .registers: break
        case .control(let record): publish(record)
        }
    }

    /// Ends every subscription after its last lines, and returns once all have ended; later
    /// subscribers are turned away.
    public func finish() async {
        let subscribers = state.withLock { s -> [any Subscriber] in
            s.finished = true
            defer { s.subscribers = [:] }
            return Array(s.subscribers.values)
        }
        await withDiscardingTaskGroup { group in
            for sub in subscribers { group.addTask { await sub.finish() } }
        }
    }

    // MARK: - Publishing

    private func publish(_ status: DeviceStatus) {
        let buffer = allocator.buffer(bytes: StreamRecords.status(status))
        state.withLock { s in
            s.status[status.device] = buffer
            if status.state == .discovering {
                s.meta[status.device] = nil
                s.readings[status.device] = nil
            }
            for sub in s.subscribers.values { sub.send(buffer) }
        }
    }

    /// A control record goes to every subscriber now; it is not part of a new subscriber's snapshot.
    private func publish(_ record: ControlRecord) {
        let buffer = allocator.buffer(bytes: record.auditLine())
        state.withLock { s in
            for sub in s.subscribers.values { sub.send(buffer) }
        }
    }

    /// Renders the readings (after each one's meta record, for a map just found) into one batch,
    /// sent as one write per subscriber; the latest of each instance is kept as a slice of it.
    private func publish(device: String, readings: [Reading], withMeta: Bool) {
        guard !readings.isEmpty else { return }
        var json = JSONBuffer(capacity: 1 << 14)
        var metaEnds: [Int] = []
        var readingEnds: [Int] = []
        for reading in readings {
            if withMeta {
                MetaRecord.append(reading.instance, device: device, to: &json)
                metaEnds.append(json.count)
            }
            ReadingRecord.append(
                reading.instance, device: device, timestamp: reading.timestamp.map { Timestamp.format($0) }, source: reading.source,
                to: &json)
            readingEnds.append(json.count)
        }
        let batch = json.withBytes { allocator.buffer(bytes: $0) }
        var meta: [Int: ByteBuffer] = [:]
        var latest: [Int: ByteBuffer] = [:]
        var start = 0
        for (k, reading) in readings.enumerated() {
            if withMeta {
                if metaEnds[k] > start { meta[reading.instance.address] = batch.getSlice(at: start, length: metaEnds[k] - start) }
                start = metaEnds[k]
            }
            latest[reading.instance.address] = batch.getSlice(at: start, length: readingEnds[k] - start)
            start = readingEnds[k]
        }
        state.withLock { s in
            if withMeta {
                s.meta[device] = meta
                s.readings[device] = latest
            } else {
                s.readings[device, default: [:]].merge(latest) { $1 }
            }
            for sub in s.subscribers.values { sub.send(batch) }
        }
    }

    private static func inOrder(_ records: [Int: ByteBuffer]?) -> [ByteBuffer] {
        (records ?? [:]).sorted { $0.key < $1.key }.map(\.value)
    }
}
