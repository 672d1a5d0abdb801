import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The Unix socket subscribers connect to: NDJSON records from the hub.
///
/// A stale socket file (left by a crash) is replaced only when nothing listens on it; if a gateway
/// is listening, starting fails. The socket gets `mode` (0660 by default) and is removed at shutdown,
/// after every subscriber got its last lines.
public struct StreamServer: Service {
    /// Socket path.
    public let path: String
    /// File mode of the socket.
    public let mode: mode_t
    /// Bytes a subscriber may have queued before it is disconnected.
    public let bufferLimit: Int
    /// Subscribers served at once; a connection past them gets a `refused` line and is closed.
    public let maxSubscribers: Int
    let hub: Hub
    let logger: Logger
    let ready: (@Sendable () -> Void)?
    /// Hears why each subscriber's connection ended (nil: no metrics kept).
    let metrics: StreamMetrics?

    /// Creates the server; `ready` runs once the socket accepts connections; `metrics` counts
    /// disconnections by reason.
    public init(
        path: String, mode: mode_t = 0o660, bufferLimit: Int = 4 << 20, maxSubscribers: Int = 1000, hub: Hub, logger: Logger,
        ready: (@Sendable () -> Void)? = nil, metrics: StreamMetrics? = nil
    ) {
        self.metrics = metrics
        self.path = path
        self.mode = mode
        self.bufferLimit = bufferLimit
        self.maxSubscribers = maxSubscribers
        self.hub = hub
        self.logger = logger
        self.ready = ready
    }

    /// Why the socket cannot be served.
    public struct SocketError: Error, CustomStringConvertible {
        /// What is wrong.
        public let description: String
    }

    public func run() async throws {
        try Self.prepare(path)
        let hub = self.hub
        let limit = bufferLimit
        let logger = self.logger
        let cap = SubscriberCap(max: maxSubscribers)
        let metrics = self.metrics
        let channel: Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 128)
                .childChannelInitializer { child in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addHandler(
                            SubscriberHandler(hub: hub, limit: limit, cap: cap, logger: logger, metrics: metrics))
                    }
                }
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false)
                .get()
        } catch {
            throw SocketError(description: "\(path): cannot listen: \(error)")
        }
        chmod(path, mode)
        logger.info("stream listening", metadata: ["socket": "\(path)"])
        ready?()
        // Serve until shutdown; then subscribers get their last lines and the socket goes away.
        try? await gracefulShutdown()
        // No new subscribers; the ones connected get their last lines (each within `finishTimeout`).
        do { try await channel.close() } catch { logger.warning("stream socket did not close cleanly", metadata: ["error": "\(error)"]) }
        await hub.finish()
        unlink(path)
    }

    /// How long a subscriber has to take its last lines at shutdown before it is closed anyway.
    static let finishTimeout = TimeAmount.seconds(1)

    /// Makes the folder, and removes a stale socket file; fails if a gateway answers on it.
    static func prepare(_ path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw SocketError(description: "\(folder): cannot create the socket's folder: \(error.localizedDescription)")
            }
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw SocketError(description: "\(path) exists and is not a socket")
        }
        if isListening(path) {
            throw SocketError(description: "\(path): another gateway is listening on this socket")
        }
        unlink(path)
    }

    /// Whether something accepts connections on a Unix socket path.
    static func isListening(_ path: String) -> Bool {
        guard let fd = UnixSocket.connect(path) else { return false }
        close(fd)
        return true
    }
}

/// One subscriber connection: a bounded queue of records. A subscriber whose queue grows past the
/// limit is disconnected; it never slows polling or the other subscribers.
final class SubscriberConnection: Subscriber, Sendable {
    /// What the connection's event loop keeps: bytes queued and not yet written, and whether it is closed.
    private struct State {
        var pending = 0
        var closed = false
        /// Why the gateway closed it (nil: the subscriber did, or has not yet).
        var ending: StreamDisconnect?
    }

    private let channel: Channel
    private let limit: Int
    private let logger: Logger
    /// Read and written on the channel's event loop only (checked: the box traps anywhere else).
    private let state: NIOLoopBoundBox<State>

    /// Creates the connection; called on the channel's event loop.
    init(channel: Channel, limit: Int, logger: Logger) {
        self.channel = channel
        self.limit = limit
        self.logger = logger
        self.state = NIOLoopBoundBox(State(), eventLoop: channel.eventLoop)
    }

    func send(_ buffer: ByteBuffer) {
        channel.eventLoop.execute { self.write(buffer) }
    }

    /// Why the connection ended, once it has (on the event loop).
    var endReason: StreamDisconnect { state.value.ending ?? .closed }

    func sendSnapshot(_ parts: [ByteBuffer]) {
        channel.eventLoop.execute {
            guard !self.state.value.closed else { return }
            for part in parts { self.channel.write(part, promise: nil) }
            self.channel.flush()
        }
    }

    /// On the event loop: queues the buffer, or disconnects a subscriber past its limit.
    private func write(_ buffer: ByteBuffer) {
        guard !state.value.closed else { return }
        let size = buffer.readableBytes
        let pending = state.value.pending
        if pending + size > limit {
            state.value.closed = true
            state.value.ending = .slow
            logger.warning("subscriber too slow: disconnected", metadata: ["queued": "\(pending)"])
            channel.close(promise: nil)
            return
        }
        state.value.pending += size
        // The write's future completes on the channel's event loop.
        channel.writeAndFlush(buffer).whenComplete { _ in self.state.value.pending -= size }
    }

    func finish() async {
        let channel = channel
        channel.eventLoop.execute {
            guard !self.state.value.closed else { return }
            self.state.value.closed = true
            self.state.value.ending = .shutdown
            // Completes once everything queued before it is written; a subscriber that does not read
            // is closed anyway after `finishTimeout`.
            channel.writeAndFlush(ByteBuffer()).whenComplete { _ in channel.close(promise: nil) }
            channel.eventLoop.scheduleTask(in: StreamServer.finishTimeout) { channel.close(promise: nil) }
        }
        // Closing twice fails the second close (already closed): the close future is what counts.
        do { try await channel.closeFuture.get() } catch {
            logger.debug("subscriber closed with an error", metadata: ["error": "\(error)"])
        }
    }
}

/// The most subscribers served at once, and how many were refused past it.
final class SubscriberCap: Sendable {
    let max: Int
    let refusals = Atomic<Int>(0)
    init(max: Int) { self.max = max }
}

/// Registers a connection with the hub while it is open; what subscribers send is ignored.
final class SubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let hub: Hub
    private let limit: Int
    private let cap: SubscriberCap
    private let logger: Logger
    private let metrics: StreamMetrics?
    private var connection: SubscriberConnection?

    init(hub: Hub, limit: Int, cap: SubscriberCap, logger: Logger, metrics: StreamMetrics?) {
        self.metrics = metrics
        self.hub = hub
        self.limit = limit
        self.cap = cap
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        let connection = SubscriberConnection(channel: context.channel, limit: limit, logger: logger)
        switch hub.subscribe(connection, limit: cap.max) {
        case .subscribed:
            break
        case .ended:
            context.close(promise: nil)
            return
        case .full:
            metrics?.disconnected(.refused)
            let refusals = cap.refusals.add(1, ordering: .relaxed).newValue
            let reason = "the gateway serves at most \(cap.max) subscribers (socket.max_subscribers)"
            if refusals == 1 || refusals % 100 == 0 {
                logger.warning("subscriber refused", metadata: ["reason": "\(reason)", "refused": "\(refusals)"])
            }
            let channel = context.channel
            channel.writeAndFlush(channel.allocator.buffer(bytes: StreamRecords.refused(reason: reason))).whenComplete { _ in
                channel.close(promise: nil)
            }
            return
        }
        self.connection = connection
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let connection {
            hub.unsubscribe(connection)
            metrics?.disconnected(connection.endReason)
        }
        connection = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
