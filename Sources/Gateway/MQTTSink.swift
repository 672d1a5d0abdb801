import Logging
import MQTT
import ServiceLifecycle

/// An MQTT session that takes the gateway's events (on the runners' tasks, never blocking).
protocol MQTTEventSession: MQTTSession {
    /// Takes one event; true when it has something new to publish.
    func take(_ event: GatewayEvent) -> Bool
}

/// The MQTT output: a sink that hands each event to its sessions (plain JSON topics, Sparkplug B) and
/// wakes their clients, and a service that runs the clients until shutdown (after the engine has
/// stopped, so the last readings go out), then publishes each session's goodbye and disconnects.
public final class MQTTSink: GatewaySink, Service {
    private let sessions: [any MQTTEventSession]
    private let clients: [MQTTClient]

    /// The sessions `settings` asks for, each on a client of its own (one Will per connection).
    public init(settings: MQTTSettings, devices: [String], logger: Logger) {
        var sessions: [any MQTTEventSession] = []
        var clients: [MQTTClient] = []
        if let prefix = settings.topicPrefix {
            let session = JSONTopicSession(settings: settings, prefix: prefix, logger: logger)
            sessions.append(session)
            clients.append(MQTTClient(options: settings.connection, session: session, logger: logger))
        }
        if let ids = settings.sparkplug {
            let session = SparkplugSession(settings: settings, ids: ids, devices: devices, logger: logger)
            var options = settings.connection
            options.clientID = settings.sparkplugClientID
            sessions.append(session)
            clients.append(MQTTClient(options: options, session: session, logger: logger))
        }
        self.sessions = sessions
        self.clients = clients
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
