import CMosquitto
import Foundation
import Logging
import Synchronization

/// An MQTT client over libmosquitto whose network loop runs on a thread of its own, never on Swift's
/// cooperative pool: it connects (and reconnects, the wait doubling from 1 s), sets each CONNECT's Will
/// from its session, publishes what the session hands it while the broker is there, at most `window`
/// unacknowledged at once (the session's own buffer holds the rest), and at shutdown publishes the
/// session's goodbye and disconnects cleanly (so the broker does not send the Will).
///
/// Every libmosquitto call is made on the client's thread; other threads only `wake` it (a byte on a
/// pipe) after they gave its session something to publish.
///
/// `@unchecked Sendable` is sound: the `var`s below `// MARK: - On the thread` are touched only on the
/// client's thread (libmosquitto calls the callbacks from inside `mosquitto_loop` on that thread);
/// `control` is a `Mutex`.
public final class MQTTClient: @unchecked Sendable {
    /// Most messages published and not yet acknowledged (QoS 1) or written (QoS 0): wide enough that the
    /// round trip to the broker on a loaded machine does not bound the rate (at 100, a 2-core machine
    /// running the 1,000-device fleet and its broker got 7,000 messages/s out of 9,000).
    public static let window = 1000

    /// Where the client connects.
    public let options: MQTTOptions
    private let session: any MQTTSession
    private let logger: Logger
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let control = Mutex(Control())
    private let connectedFlag = Atomic<Bool>(false)
    private let publishedCount = Atomic<Int>(0)

    private struct Control {
        var started = false
        var stopping = false
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private enum Link { case disconnected, awaitingConnack, connected }

    /// What a libmosquitto callback reported, handled after `mosquitto_loop` returns.
    private enum Callback {
        case connack(Int32)
        case disconnect(Int32)
        case published
        case message(String, [UInt8])
    }

    // MARK: - On the thread

    private var mosq: OpaquePointer?
    private var link = Link.disconnected
    private var inflight = 0
    private var callbacks: [Callback] = []
    private var failedAttempts = 0

    /// A client for these options and session; `start` starts its thread.
    public init(options: MQTTOptions, session: any MQTTSession, logger: Logger) {
        self.options = options
        self.session = session
        self.logger = logger
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { fatalError("pipe() failed: \(String(cString: strerror(errno)))") }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// Whether the broker has accepted the connection and it has not been lost since.
    public var isConnected: Bool { connectedFlag.load(ordering: .acquiring) }
    /// Messages handed to libmosquitto since the client was made.
    public var published: Int { publishedCount.load(ordering: .relaxed) }

    /// Starts the client's thread (once).
    public func start() {
        let first = control.withLock { c in
            defer { c.started = true }
            return !c.started
        }
        guard first else { return }
        // The thread keeps the client alive until it ends.
        let thread = Thread { self.run() }
        thread.name = "mqtt \(options.clientID)"
        thread.stackSize = 512 * 1024
        thread.start()
    }

    /// Tells the thread its session has something to publish; never blocks.
    public func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)  // a full pipe already wakes the thread: nothing is lost
    }

    /// Publishes the session's goodbye, disconnects, and returns once the thread has ended.
    public func stop() async {
        let running = control.withLock { c in
            c.stopping = true
            return c.started
        }
        guard running else { return }
        wake()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = control.withLock { c in
                if !c.finished { c.waiters.append(continuation) }
                return c.finished
            }
            if done { continuation.resume() }
        }
    }

    private var isStopping: Bool { control.withLock { $0.stopping } }

    private func run() {
        Self.libraryReady.withLock { ready in
            if !ready { mosquitto_lib_init() }
            ready = true
        }
        if let m = mosquitto_new(options.clientID, true, Unmanaged.passUnretained(self).toOpaque()) {
            mosq = m
            if configure(m) { serve(m) }
            mosquitto_destroy(m)
            mosq = nil
        } else {
            logger.error("mqtt: libmosquitto could not make a client", metadata: ["errno": "\(cmosquitto_errno())"])
        }
        connectedFlag.store(false, ordering: .releasing)
        let waiting = control.withLock { c in
            c.finished = true
            defer { c.waiters = [] }
            return c.waiters
        }
        for waiter in waiting { waiter.resume() }
    }

    private static let libraryReady = Mutex(false)

    /// Options, credentials, TLS and callbacks; false (logged) when libmosquitto refuses one.
    private func configure(_ m: OpaquePointer) -> Bool {
        _ = mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311)
        _ = mosquitto_max_inflight_messages_set(m, UInt32(Self.window))
        if let user = options.username {
            let rc = mosquitto_username_pw_set(m, user, options.password)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else { return refused("username", rc) }
        }
        if let tls = options.tls {
            let rc = mosquitto_tls_set(m, tls.caFile, nil, tls.certFile, tls.keyFile, nil)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else { return refused("tls", rc) }
        }
        mosquitto_connect_callback_set(m) { _, obj, rc in MQTTClient.client(obj).callbacks.append(.connack(rc)) }
        mosquitto_disconnect_callback_set(m) { _, obj, rc in MQTTClient.client(obj).callbacks.append(.disconnect(rc)) }
        mosquitto_publish_callback_set(m) { _, obj, _ in MQTTClient.client(obj).callbacks.append(.published) }
        mosquitto_message_callback_set(m) { _, obj, message in
            guard let message, let topic = message.pointee.topic else { return }
            let length = Int(message.pointee.payloadlen)
            let payload =
                if let bytes = message.pointee.payload, length > 0 {
                    Array(UnsafeRawBufferPointer(start: bytes, count: length))
                } else { [UInt8]() }
            MQTTClient.client(obj).callbacks.append(.message(String(cString: topic), payload))
        }
        return true
    }

    private static func client(_ obj: UnsafeMutableRawPointer?) -> MQTTClient {
        Unmanaged<MQTTClient>.fromOpaque(obj!).takeUnretainedValue()
    }

    private func refused(_ what: String, _ rc: Int32) -> Bool {
        logger.error("mqtt: libmosquitto refused the \(what) settings: \(Self.describe(rc))")
        return false
    }

    /// Connects, serves and reconnects until stopped; then says goodbye.
    private func serve(_ m: OpaquePointer) {
        var delay = 1
        while !isStopping {
            if link == .disconnected {
                guard connect(m) else {
                    waitForStop(seconds: delay)
                    delay = min(delay * 2, max(1, options.maxReconnectDelay))
                    continue
                }
                delay = 1
            }
            pollOnce(m, timeout: options.tls == nil ? 1000 : 100)
            let rc = mosquitto_loop(m, 0, 1)
            handleCallbacks(m)
            if rc != MOSQ_ERR_SUCCESS.rawValue && link != .disconnected { lost(Self.describe(rc)) }
            if link == .connected && session.takeRestart() { restart(m) }
            if link == .connected { drain(m) }
        }
        guard link == .connected else { return }
        sayGoodbye(m)
    }

    /// Publishes the session's goodbye, waits up to 2 s for what is in flight, and disconnects.
    private func sayGoodbye(_ m: OpaquePointer) {
        for message in session.goodbye() { publish(m, message) }
        let deadline = Date().addingTimeInterval(2)
        while inflight > 0 && link == .connected && Date() < deadline {
            pollOnce(m, timeout: 100)
            if mosquitto_loop(m, 0, 1) != MOSQ_ERR_SUCCESS.rawValue { break }
            handleCallbacks(m)
        }
        mosquitto_disconnect(m)
        _ = mosquitto_loop(m, 0, 1)
    }

    /// The session asked to start over: goodbye, disconnect, and (the loop) connect again at once.
    private func restart(_ m: OpaquePointer) {
        logger.info("mqtt: disconnecting from \(options.host):\(options.port) as the session asks; connecting again")
        sayGoodbye(m)
        link = .disconnected
        connectedFlag.store(false, ordering: .releasing)
        session.disconnected()
    }

    /// One CONNECT with the session's Will; false when it could not be sent (logged).
    private func connect(_ m: OpaquePointer) -> Bool {
        if let will = session.willForNextConnect() {
            let rc = will.payload.withUnsafeBytes { bytes in
                mosquitto_will_set(m, will.topic, Int32(bytes.count), bytes.baseAddress, Int32(will.qos), will.retain)
            }
            if rc != MOSQ_ERR_SUCCESS.rawValue { logger.error("mqtt: the Will was refused: \(Self.describe(rc))") }
        } else {
            _ = mosquitto_will_clear(m)
        }
        let rc = mosquitto_connect(m, options.host, Int32(options.port), Int32(options.keepalive))
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            failedAttempts += 1
            let reason = Self.describe(rc)
            if failedAttempts == 1 {
                logger.warning("mqtt: cannot connect to \(options.host):\(options.port): \(reason); retrying")
            } else {
                logger.debug("mqtt: connect attempt \(failedAttempts) to \(options.host):\(options.port): \(reason)")
            }
            return false
        }
        link = .awaitingConnack
        return true
    }

    private func handleCallbacks(_ m: OpaquePointer) {
        while !callbacks.isEmpty {
            let now = callbacks
            callbacks = []
            for callback in now {
                switch callback {
                case .connack(let rc) where rc == 0:
                    link = .connected
                    inflight = 0
                    failedAttempts = 0
                    connectedFlag.store(true, ordering: .releasing)
                    logger.info("mqtt: connected to \(options.host):\(options.port) as \(options.clientID)")
                    for filter in session.subscriptions { _ = mosquitto_subscribe(m, nil, filter, 1) }
                    for message in session.connected() { publish(m, message) }
                case .connack(let rc):
                    let reason = String(cString: mosquitto_connack_string(rc))
                    logger.error("mqtt: the broker refused the connection: \(reason)")
                    mosquitto_disconnect(m)
                    lost(reason)
                case .disconnect(let rc):
                    if link != .disconnected { lost(rc == 0 ? "disconnected" : Self.describe(rc)) }
                case .published:
                    inflight = max(0, inflight - 1)
                case .message(let topic, let payload):
                    session.received(topic: topic, payload: payload)
                }
            }
        }
    }

    private func lost(_ reason: String) {
        let was = link
        link = .disconnected
        connectedFlag.store(false, ordering: .releasing)
        if was == .connected {
            logger.warning("mqtt: lost the broker \(options.host):\(options.port): \(reason); reconnecting")
            session.disconnected()
        }
    }

    /// Publishes what the session has, keeping at most `window` unacknowledged.
    private func drain(_ m: OpaquePointer) {
        while inflight < Self.window {
            let batch = session.next(limit: Self.window - inflight)
            if batch.isEmpty { return }
            for message in batch { publish(m, message) }
        }
    }

    /// Hands one message to libmosquitto. `MOSQ_ERR_NO_CONN` means it is queued for the next connection
    /// (libmosquitto keeps QoS 1 messages), so it counts as handed over.
    private func publish(_ m: OpaquePointer, _ message: MQTTMessage) {
        let rc = message.payload.withUnsafeBytes { bytes in
            mosquitto_publish(m, nil, message.topic, Int32(bytes.count), bytes.baseAddress, Int32(message.qos), message.retain)
        }
        if rc == MOSQ_ERR_SUCCESS.rawValue || rc == MOSQ_ERR_NO_CONN.rawValue {
            inflight += 1
            publishedCount.add(1, ordering: .relaxed)
        } else {
            logger.error("mqtt: could not publish to \(message.topic): \(Self.describe(rc)); dropped")
        }
    }

    /// Waits for the socket (or a wake) up to `timeout` ms; empties the wake pipe.
    private func pollOnce(_ m: OpaquePointer, timeout: Int32) {
        let socket = mosquitto_socket(m)
        var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        if socket >= 0 {
            let events = Int16(POLLIN) | (mosquitto_want_write(m) ? Int16(POLLOUT) : 0)
            fds.append(pollfd(fd: socket, events: events, revents: 0))
        }
        _ = poll(&fds, nfds_t(fds.count), timeout)
        if fds[0].revents != 0 { emptyWakePipe() }
    }

    /// Waits `seconds` between connect attempts; wakes that are not a stop do not shorten it.
    private func waitForStop(seconds: Int) {
        let deadline = Date().addingTimeInterval(Double(seconds))
        while !isStopping {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return }
            var fd = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
            _ = poll(&fd, 1, Int32(left * 1000) + 1)
            if fd.revents != 0 { emptyWakePipe() }
        }
    }

    private func emptyWakePipe() {
        var sink = [UInt8](repeating: 0, count: 256)
        while read(wakeRead, &sink, sink.count) > 0 {}
    }

    /// libmosquitto's text for a result code (errno's for `MOSQ_ERR_ERRNO`; our own for
    /// `MOSQ_ERR_KEEPALIVE`, which libmosquitto 2.0.11 calls "Unknown error.": the broker stalled or the
    /// path to it went silent, its TCP connection still open).
    static func describe(_ rc: Int32) -> String {
        if rc == MOSQ_ERR_ERRNO.rawValue { return String(cString: strerror(cmosquitto_errno())) }
        if rc == MOSQ_ERR_KEEPALIVE.rawValue { return "no answer from the broker within the keepalive" }
        return String(cString: mosquitto_strerror(rc))
    }
}
