import Modbus
import NIOCore
import NIOPosix
import Synchronization

/// A Modbus TCP server on SwiftNIO, for the SunSpec export and the simulator: FC3 and FC4 read a
/// `RegisterSource` (through `ModbusResponder`); FC6 and FC16 go to the `ModbusWriteHandler` when
/// one is given (answered when it has, in the order of each connection's requests), else to the
/// responder (written when the source is a `WritableRegisterSource`, else exception 1); every other
/// function code gets exception 1 at once.
///
/// Requests are framed by their MBAP length (`MBAPFrameDecoder`); bytes that are not Modbus TCP (a
/// nonzero protocol id, a length outside 2...254) close the connection. A partial frame or an
/// unknown function code stalls no one: every connection is a channel on a shared event loop group.
///
/// Careless clients cannot hold slots for ever: a connection with no complete request for
/// `idleTimeout` is closed (a partial frame, or bytes dribbled in, count as idle), and at the cap the
/// connection idle longest is closed to admit a new client, provided it has been idle for at least
/// `evictableIdle` (1 s: a burst of new clients never throws out one that polls faster than that).
public final class ModbusServer: Sendable {
    /// The address listened on.
    public let host: String
    /// Most connections served at once; more are closed on accept.
    public let maxConnections: Int
    /// A connection with no complete request for this long is closed; nil (the default): never.
    public let idleTimeout: Duration?
    /// At the cap, a connection idle at least this long is closed to admit a new client.
    public static let evictableIdle = Duration.seconds(1)
    /// Requests answered (registers or exception), for tests and benchmarks.
    public var requests: Int { connections.counter.value }
    /// Connections open now that count towards the cap (for metrics).
    public var connectionCount: Int { connections.registry.counted }
    /// The port listened on once started (the one asked for before).
    public var port: Int { state.withLock { $0.port } }

    private let group: any EventLoopGroup
    private let connections: ConnectionSetup
    private let state: Mutex<State>

    private struct State {
        var port: Int
        var channel: (any Channel)?
        var stopped = false
    }

    /// Why a server cannot listen.
    public struct ListenError: Error, CustomStringConvertible {
        /// What went wrong, with the address.
        public let description: String
    }

    /// Creates a server; `port` 0 picks a free one. `host` is an IP address. Its connections run on
    /// `group` (by default the process's shared one, so that many servers in a process share a few
    /// threads). `onEvent` hears of connections closed or refused by the server (on an event loop;
    /// it must not block). `writeHandler`, when given, answers the writes.
    public init(
        host: String = "127.0.0.1", port: Int, maxConnections: Int = 64, idleTimeout: Duration? = nil,
        source: any RegisterSource, writeHandler: (any ModbusWriteHandler)? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onEvent: @escaping @Sendable (ServerConnectionEvent) -> Void = { _ in }
    ) {
        self.host = host
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.group = group
        connections = ConnectionSetup(
            responder: ModbusResponder(source: source), counter: RequestCounter(),
            registry: ConnectionRegistry(maxConnections: maxConnections, evictableIdle: Self.evictableIdle),
            idleTimeout: idleTimeout, writeHandler: writeHandler, onEvent: onEvent)
        state = Mutex(State(port: port))
    }

    /// Binds and listens; returns the port. A server starts once.
    @discardableResult
    public func start() async throws(ListenError) -> Int {
        let requested = port
        let connections = self.connections
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { child in
                    child.eventLoop.makeCompletedFuture { try connections.install(on: child.pipeline.syncOperations) }
                }
                .bind(host: host, port: requested)
                .get()
        } catch {
            throw ListenError(description: "listen on \(host):\(requested): \(error)")
        }
        let port = channel.localAddress?.port ?? requested
        let stopped = state.withLock { s in
            if !s.stopped {
                s.channel = channel
                s.port = port
            }
            return s.stopped
        }
        if stopped { await Self.close([channel]) }
        return port
    }

    /// Stops listening and closes every connection; returns once they are closed.
    public func stop() async {
        let listener = state.withLock { s in
            s.stopped = true
            return s.channel
        }
        if let listener { await Self.close([listener]) }
        await Self.close(connections.registry.stop())
    }

    /// Closes `channels` (those not closing already) and waits until they are all closed.
    private static func close(_ channels: [any Channel]) async {
        for channel in channels { channel.close(promise: nil) }
        for channel in channels {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                channel.closeFuture.whenComplete { _ in done.resume() }
            }
        }
    }
}

/// What every connection of a server shares, and the pipeline it installs on each: the MBAP codec,
/// the cap, the idle timeout (if any) and the request handler (with the write handler, if any).
struct ConnectionSetup: Sendable {
    let responder: ModbusResponder
    let counter: RequestCounter
    let registry: ConnectionRegistry
    let idleTimeout: Duration?
    var writeHandler: (any ModbusWriteHandler)? = nil
    let onEvent: @Sendable (ServerConnectionEvent) -> Void

    /// Adds the handlers of one connection to its pipeline.
    func install(on pipeline: ChannelPipeline.SynchronousOperations) throws {
        try pipeline.addHandler(MessageToByteHandler(MBAPFrameEncoder()))
        try pipeline.addHandler(ByteToMessageHandler(MBAPFrameDecoder()))
        try pipeline.addHandler(ConnectionCapHandler(registry: registry, onEvent: onEvent))
        if let idleTimeout { try pipeline.addHandler(IdleTimeoutHandler(timeout: idleTimeout, onEvent: onEvent)) }
        try pipeline.addHandler(ModbusRequestHandler(responder: responder, counter: counter, writeHandler: writeHandler))
    }
}
