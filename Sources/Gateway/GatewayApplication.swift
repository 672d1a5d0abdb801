import Logging
import Modbus
import Prometheus
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
    /// The metrics (nil when neither `metrics:` is configured nor a registry given).
    public let metrics: GatewayMetrics?
    /// The control pipeline (nil when there is no `control:`).
    public let controller: Controller?
    let services: [any Service]
    let logger: Logger

    /// The gateway of `config`. Devices are read over Modbus links the engine opens, or, given
    /// `readers` (by device name), from those (in-process devices). `sinks` get every event after
    /// the export and the stream. `onStreamReady` runs once the socket accepts subscribers.
    ///
    /// Metrics are kept in `registry` when one is given (the executable's, or a test's), or in a new
    /// one when `metrics:` is configured; `/metrics` and `/status` are served when `metrics:` is
    /// configured (`onMetricsReady` is told the port bound). `onReady` runs once everything listens.
    public init(
        config: GatewayConfig, logger: Logger, clocks: Clocks = .real, catalog: ModelCatalog = .builtin,
        readers: [String: any RegisterReader]? = nil, sinks: [any GatewaySink] = [], onStreamReady: (@Sendable () -> Void)? = nil,
        registry: PrometheusCollectorRegistry? = nil, onMetricsReady: (@Sendable (Int) -> Void)? = nil,
        onReady: (@Sendable () -> Void)? = nil
    ) {
        self.config = config
        self.logger = logger
        hub = Hub(devices: config.devices.map(\.name))
        let metrics = (registry ?? config.metrics.map { _ in PrometheusCollectorRegistry() }).map {
            GatewayMetrics(config: config, registry: $0, clocks: clocks)
        }
        self.metrics = metrics
        metrics?.attach(hub: hub)
        let ready = ReadyGate(count: config.metrics == nil ? 1 : 2, then: onReady)
        let exportStore = config.export.map { _ in ExportStore(units: config.devices.compactMap(\.exportUnit)) }
        self.exportStore = exportStore
        // The export hears of an event before the stream: a subscriber that sees a device online
        // (or offline) finds its export unit so already.
        var outputs: [any GatewaySink] = []
        if let exportStore { outputs.append(ExportSink(store: exportStore, devices: config.devices)) }
        if let metrics { outputs.append(MetricsSink(metrics: metrics, wall: clocks.wall)) }
        // Sparkplug DCMDs go to the controller, made below (after the engine): bound to it then.
        let deviceControl = config.control.map { _ in SparkplugDeviceControl(logger: logger) }
        let mqtt = config.mqtt.map {
            MQTTSink(settings: $0, devices: config.devices.map(\.name), deviceControl: deviceControl, logger: logger)
        }
        if let mqtt { metrics?.attach(mqtt: mqtt) }
        let outputsSink = Sinks(outputs + [hub] + (mqtt.map { [$0 as any GatewaySink] } ?? []) + sinks)
        let observer = config.control.map { _ in ControlObserver(devices: config.devices) }
        let sink: any GatewaySink = observer.map { Sinks([outputsSink, $0]) } ?? outputsSink
        let engine =
            if let readers {
                Engine(
                    devices: config.devices, readers: readers, sink: sink, catalog: catalog, clocks: clocks, logger: logger,
                    metrics: metrics)
            } else {
                Engine(devices: config.devices, sink: sink, catalog: catalog, clocks: clocks, logger: logger, metrics: metrics)
            }
        self.engine = engine
        // The control pipeline works through the runners' inboxes, so it comes after the engine.
        let controller = config.control.flatMap { settings in
            observer.map { observer in
                Controller(
                    settings: settings, devices: config.devices, inboxes: engine.inboxes, observer: observer, events: outputsSink,
                    catalog: catalog, clocks: clocks, logger: logger)
            }
        }
        self.controller = controller
        if let controller { deviceControl?.attach(controller) }
        var services: [any Service] = [
            StreamServer(
                path: config.socketPath, mode: config.socketMode, bufferLimit: config.bufferLimit, maxSubscribers: config.maxSubscribers,
                hub: hub, logger: logger,
                ready: {
                    onStreamReady?()
                    ready.arrive()
                }, metrics: metrics?.stream)
        ]
        if let export = config.export, let exportStore {
            let service = ExportService(
                host: export.host, port: export.port, maxConnections: export.maxConnections, idleTimeout: export.idleTimeout,
                store: exportStore, writeHandler: controller.map { ExportControl(controller: $0, devices: config.devices) },
                logger: logger, metrics: metrics?.export)
            metrics?.attachExport(connections: { [server = service.server] in server.connectionCount })
            services.append(service)
        }
        if let settings = config.metrics, let metrics {
            services.append(
                MetricsService(
                    host: settings.host, port: settings.port, metrics: metrics, logger: logger,
                    ready: { port in
                        onMetricsReady?(port)
                        ready.arrive()
                    }))
        }
        // Services stop in reverse order: the control first (reverting live ttls through the runners),
        // then the engine, MQTT (the last readings go out), the metrics, the export, the stream.
        if let mqtt { services.append(mqtt) }
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
