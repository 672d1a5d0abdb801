import Logging
import MQTT
import ServiceLifecycle

/// An MQTT session that takes the gateway's events (on the runners' tasks, never blocking).
protocol MQTTEventSession: MQTTSession {
    /// Takes one event; true when it has something new to publish.
    func take(_ event: GatewayEvent) -> Bool
    /// Messages kept, and dropped since the start.
    var buffered: (count: Int, dropped: Int) { get }
}

/// The MQTT output: a sink that hands each event to its sessions (plain JSON topics, Sparkplug B) and
/// wakes their clients, and a service that runs the clients until shutdown (after the engine has
/// stopped, so the last readings go out), then publishes each session's goodbye and disconnects.
public final class MQTTSink: GatewaySink, Service {
    private let sessions: [any MQTTEventSession]
    private let clients: [MQTTClient]

    /// The sessions `settings` asks for, each on a client of its own (one Will per connection); DCMD
    /// is refused.
    public convenience init(settings: MQTTSettings, devices: [String], logger: Logger) {
        self.init(settings: settings, devices: devices, deviceControl: nil, logger: logger)
    }

    /// The sessions `settings` asks for; a Sparkplug DCMD goes to `deviceControl` (refused when nil).
    init(settings: MQTTSettings, devices: [String], deviceControl: SparkplugDeviceControl?, logger: Logger) {
        var sessions: [any MQTTEventSession] = []
        var clients: [MQTTClient] = []
        if let prefix = settings.topicPrefix {
            let session = JSONTopicSession(settings: settings, prefix: prefix, logger: logger)
            sessions.append(session)
            clients.append(MQTTClient(options: settings.connection, session: session, logger: logger))
        }
        if let ids = settings.sparkplug {
            let session = SparkplugSession(
                settings: settings, ids: ids, devices: devices, logger: logger, deviceCommand: deviceControl.map { control in control.take }
            )
            var options = settings.connection
            options.clientID = settings.sparkplugClientID
            sessions.append(session)
            clients.append(MQTTClient(options: options, session: session, logger: logger))
        }
        self.sessions = sessions
        self.clients = clients
    }

    /// Whether every client is connected, messages published, kept and dropped (summed over the sessions).
    var counters: (connected: Bool, published: Int, buffered: Int, dropped: Int) {
        let buffered = sessions.map(\.buffered)
        return (
            !clients.isEmpty && clients.allSatisfy(\.isConnected), clients.reduce(0) { $0 + $1.published },
            buffered.reduce(0) { $0 + $1.count }, buffered.reduce(0) { $0 + $1.dropped }
        )
    }

    public func receive(_ event: GatewayEvent) {
        for (session, client) in zip(sessions, clients) where session.take(event) { client.wake() }
    }

    /// Runs the clients until a graceful shutdown (or cancellation), then stops them.
    public func run() async throws {
        for client in clients { client.start() }
        do {
            try await gracefulShutdown()
        } catch is CancellationError {
            // Cancelled rather than shut down: the clients still say goodbye below.
        }
        for client in clients { await client.stop() }
    }
}
