import Logging
import Modbus
import ServiceLifecycle
import SunSpec

/// The gateway, composed in one place: from a validated config, a logger and the clocks, the device
/// runners (the engine) and the outputs they report to (the socket stream and, when configured, the
/// SunSpec export), each output a sink of the runners' events. It is a `Service`: `run` serves until
/// a graceful shutdown, which stops the engine first, then the export, then the stream (subscribers
/// get their last lines). `run`, `demo`, the tests and the benchmarks all build it this way.
public struct GatewayApplication: Service {
    /// The config it was built from.
    public let config: GatewayConfig
    /// The stream's fan-out (tests and benchmarks subscribe to it directly).
    public let hub: Hub
    /// What the SunSpec export serves (nil when there is no `export:`).
    public let exportStore: ExportStore?
    /// The device runners.
    public let engine: Engine
    /// The control pipeline (nil when there is no `control:`).
    public let controller: Controller?
    let services: [any Service]
    let logger: Logger

    /// The gateway of `config`. Devices are read over Modbus links the engine opens, or, given
    /// `readers` (by device name), from those (in-process devices). `sinks` get every event after
    /// the export and the stream. `onStreamReady` runs once the socket accepts subscribers.
    public init(
        config: GatewayConfig, logger: Logger, clocks: Clocks = .real, catalog: ModelCatalog = .builtin,
        readers: [String: any RegisterReader]? = nil, sinks: [any GatewaySink] = [], onStreamReady: (@Sendable () -> Void)? = nil
    ) {
        self.config = config
        self.logger = logger
        hub = Hub(devices: config.devices.map(\.name))
        let exportStore = config.export.map { _ in ExportStore(units: config.devices.compactMap(\.exportUnit)) }
        self.exportStore = exportStore
        // The export hears of an event before the stream: a subscriber that sees a device online
        // (or offline) finds its export unit so already.
        var outputs: [any GatewaySink] = []
        if let exportStore { outputs.append(ExportSink(store: exportStore, devices: config.devices)) }
        let outputsSink = Sinks(outputs + [hub] + sinks)
        let observer = config.control.map { _ in ControlObserver(devices: config.devices) }
        let sink: any GatewaySink = observer.map { Sinks([outputsSink, $0]) } ?? outputsSink
        let engine =
            if let readers {
                Engine(devices: config.devices, readers: readers, sink: sink, catalog: catalog, clocks: clocks, logger: logger)
            } else {
                Engine(devices: config.devices, sink: sink, catalog: catalog, clocks: clocks, logger: logger)
            }
        self.engine = engine
        // The control pipeline works through the runners' inboxes, so it comes after the engine.
        let controller = config.control.flatMap { settings in
            observer.map { observer in
                Controller(
                    settings: settings, devices: config.devices, inboxes: engine.inboxes, observer: observer, events: outputsSink,
                    clocks: clocks, logger: logger)
            }
        }
        self.controller = controller
        var services: [any Service] = [
            StreamServer(
                path: config.socketPath, mode: config.socketMode, bufferLimit: config.bufferLimit, maxSubscribers: config.maxSubscribers,
                hub: hub, logger: logger, ready: onStreamReady)
        ]
        if let export = config.export, let exportStore {
            services.append(
                ExportService(
                    host: export.host, port: export.port, maxConnections: export.maxConnections, idleTimeout: export.idleTimeout,
                    store: exportStore, writeHandler: controller.map { ExportControl(controller: $0, devices: config.devices) },
                    logger: logger))
        }
        // Services stop in reverse order: the control first (reverting live ttls through the runners),
        // then the engine, the export, the stream.
        services.append(engine)
        if let controller, let settings = config.control {
            services.append(ControlService(controller: controller, settings: settings, logger: logger))
        }
        self.services = services
    }

    /// Serves until a graceful shutdown (or until a service fails: a socket that cannot be served).
    public func run() async throws {
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        try await withGracefulShutdownHandler {
            try await group.run()
        } onGracefulShutdown: {
            Task { await group.triggerGracefulShutdown() }
        }
    }
}
