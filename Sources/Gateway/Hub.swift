import NIOCore
import SunSpec
import Synchronization

/// Someone the stream's records go to: a socket connection, or the demo's mirror.
public protocol Subscriber: AnyObject, Sendable {
    /// Queues one record (or a batch of lines) for the subscriber; never blocks.
    func send(_ buffer: ByteBuffer)
    /// Queues the snapshot a new subscriber starts with: always delivered, whatever its size (the
    /// queue limit is for a backlog building up after it).
    func sendSnapshot(_ buffer: ByteBuffer)
    /// Writes what is queued, then ends the subscription (shutdown).
    func finish()
}

/// The fan-out at the heart of the stream: it keeps what a new subscriber needs (the hello, each
/// device's status, its meta records and the latest reading of every model instance) and hands
/// every new record to every subscriber. Publishing never waits for a subscriber: each has its own
/// bounded queue (see `SubscriberConnection`).
public final class Hub: Sendable {
    private struct State {
        var devices: [String]
        var status: [String: ByteBuffer] = [:]
        /// What each model instance is (its meta record is written when a subscriber needs it).
        var meta: [String: [Int: ModelInstance]] = [:]
        var readings: [String: [Int: ByteBuffer]] = [:]
        var subscribers: [ObjectIdentifier: any Subscriber] = [:]
        var finished = false
    }

    private let state: Mutex<State>
    private let allocator = ByteBufferAllocator()

    /// A hub for these devices (named in the hello record, in this order).
    public init(devices: [String]) {
        state = Mutex(State(devices: devices))
    }

    /// Subscribers connected now.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Adds a subscriber and sends it, in order: hello, each device's status, the meta records, the
    /// latest readings. Live records follow with no gap and no repeat. False (and nothing sent) when
    /// `limit` subscribers are connected already.
    @discardableResult
    public func subscribe(_ subscriber: any Subscriber, limit: Int = .max) -> Bool {
        state.withLock { s in
            guard !s.finished else {
                subscriber.finish()
                return true
            }
            guard s.subscribers.count < limit else { return false }
            var snapshot = allocator.buffer(bytes: StreamRecords.hello(devices: s.devices))
            for device in s.devices {
                if var status = s.status[device] { snapshot.writeBuffer(&status) }
            }
            var meta = JSONBuffer(capacity: 1 << 16)
            for device in s.devices {
                for (_, instance) in (s.meta[device] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    MetaRecord.append(instance, device: device, to: &meta)
                }
            }
            _ = meta.withBytes { snapshot.writeBytes($0) }
            for device in s.devices {
                for (_, var r) in (s.readings[device] ?? [:]).sorted(by: { $0.key < $1.key }) { snapshot.writeBuffer(&r) }
            }
            subscriber.sendSnapshot(snapshot)
            s.subscribers[ObjectIdentifier(subscriber)] = subscriber
            return true
        }
    }

    /// Removes a subscriber (its connection closed).
    public func unsubscribe(_ subscriber: any Subscriber) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: ObjectIdentifier(subscriber)) }
    }

    /// Publishes a device's status.
    public func publish(status: DeviceStatus) {
        let buffer = allocator.buffer(bytes: StreamRecords.status(status))
        state.withLock { s in
            s.status[status.device] = buffer
            for sub in s.subscribers.values { sub.send(buffer) }
        }
    }

    /// Publishes the records of one model instance just discovered: its meta record (the instance
    /// is kept, to write it for later subscribers) and its reading.
    public func publish(device: String, instance: ModelInstance, reading: [UInt8]) {
        let readingBuffer = allocator.buffer(bytes: reading)
        var meta = JSONBuffer(capacity: 4096)
        MetaRecord.append(instance, device: device, to: &meta)
        let metaBuffer = meta.count > 0 ? allocator.buffer(bytes: meta.bytes) : nil
        let address = instance.address
        // Keep what the meta record needs, not the decoded values.
        let kept = ModelInstance(address: instance.address, index: instance.index, model: instance.model.withoutValues())
        state.withLock { s in
            if let metaBuffer {
                s.meta[device, default: [:]][address] = kept
                for sub in s.subscribers.values { sub.send(metaBuffer) }
            }
            s.readings[device, default: [:]][address] = readingBuffer
            for sub in s.subscribers.values { sub.send(readingBuffer) }
        }
    }

    /// Publishes many readings of one device at once (one poll), as one write per subscriber.
    public func publish(device: String, readings: [(address: Int, bytes: [UInt8])]) {
        guard !readings.isEmpty else { return }
        var batch = allocator.buffer(capacity: readings.reduce(0) { $0 + $1.bytes.count })
        var singles: [(Int, ByteBuffer)] = []
        singles.reserveCapacity(readings.count)
        for r in readings {
            let start = batch.writerIndex
            batch.writeBytes(r.bytes)
            singles.append((r.address, batch.getSlice(at: start, length: r.bytes.count)!))
        }
        state.withLock { s in
            var latest = s.readings[device] ?? [:]
            for (address, buffer) in singles { latest[address] = buffer }
            s.readings[device] = latest
            for sub in s.subscribers.values { sub.send(batch) }
        }
    }

    /// Forgets a device's meta records and readings (its map is being discovered again).
    public func reset(device: String) {
        state.withLock { s in
            s.meta[device] = nil
            s.readings[device] = nil
        }
    }

    /// Ends every subscription after its last lines; later subscribers are turned away.
    public func finish() {
        let subscribers = state.withLock { s -> [any Subscriber] in
            s.finished = true
            defer { s.subscribers = [:] }
            return Array(s.subscribers.values)
        }
        for sub in subscribers { sub.finish() }
    }
}
