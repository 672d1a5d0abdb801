import CoreMetrics
import Foundation
import Modbus
import Prometheus
import Synchronization

/// Every metric of one gateway, made once when the gateway is built, over its own Prometheus
/// registry (tests make theirs; the executable makes one and also bootstraps swift-metrics with it):
/// one `DeviceMetrics` per device, one `LinkMetrics` per endpoint, the stream's and the export's
/// handles, and `build_info`. The hot paths hold their handles; nothing is looked up by label there.
///
/// Gauges that depend on the time (reading age, busy ratio, subscribers, export connections) are
/// set by `refresh`, which `/metrics` and `/status` call before they answer.
public final class GatewayMetrics: Sendable {
    /// The registry the metrics are kept in (what `/metrics` renders).
    public let registry: PrometheusCollectorRegistry
    /// The swift-metrics factory over `registry`.
    public let factory: PrometheusMetricsFactory
    /// Each device's metrics, by name.
    public let devices: [String: DeviceMetrics]
    /// The devices in the config's order.
    let deviceOrder: [String]
    /// Each endpoint's metrics, by the endpoint's label.
    public let links: [String: LinkMetrics]
    /// The stream's metrics.
    public let stream: StreamMetrics
    /// The export's metrics (nil when there is no export).
    public let export: ExportMetrics?
    /// The MQTT output's metrics (nil when there is no `mqtt:`).
    let mqtt: MQTTMetrics?
    private let sources = Mutex(Sources())
    private let clocks: Clocks

    /// What the time-dependent gauges are read from, given once the parts exist.
    private struct Sources {
        var links: [String: ModbusLink] = [:]
        var hub: Hub?
        var exportConnections: (@Sendable () -> Int)?
        var mqtt: MQTTSink?
    }

    /// The metrics of `config`'s gateway, kept in `registry`, timed on `clocks`.
    public init(
        config: GatewayConfig, registry: PrometheusCollectorRegistry, clocks: Clocks = .real, version: String = StreamRecords.gatewayVersion
    ) {
        self.registry = registry
        self.clocks = clocks
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            MetricName.requestDuration: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000].map { Duration.milliseconds($0) },
            MetricName.pollDuration: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000].map { Duration.milliseconds($0) },
        ]
        self.factory = factory
        var devices: [String: DeviceMetrics] = [:]
        var links: [String: LinkMetrics] = [:]
        for device in config.devices {
            let kinds: [RegisterKind] = device.profile == nil ? [device.registers] : [.holding, .input]
            devices[device.name] = DeviceMetrics(device: device.name, kinds: kinds, factory: factory)
            let label = Self.label(device.endpoint)
            if links[label] == nil { links[label] = LinkMetrics(endpoint: label, factory: factory) }
        }
        self.devices = devices
        deviceOrder = config.devices.map(\.name)
        self.links = links
        stream = StreamMetrics(factory: factory)
        export = config.export.map { _ in ExportMetrics(units: config.devices.compactMap(\.exportUnit), factory: factory) }
        mqtt = config.mqtt.map { _ in MQTTMetrics(factory: factory) }
        Meter(label: MetricName.buildInfo, dimensions: [("version", version)], factory: factory).set(1)
    }

    /// An endpoint as labels name it: `host:port`, or the serial port's path.
    public static func label(_ endpoint: Endpoint) -> String {
        if case .rtu(let settings) = endpoint { return settings.port }
        return endpoint.description
    }

    // MARK: - Wiring

    /// The link of an endpoint: its counters are copied at each refresh.
    func attach(_ link: ModbusLink) {
        sources.withLock { $0.links[Self.label(link.endpoint)] = link }
    }

    /// The hub whose subscribers are counted.
    func attach(hub: Hub) { sources.withLock { $0.hub = hub } }

    /// Where the export's open connections are counted.
    func attach(mqtt sink: MQTTSink) { sources.withLock { $0.mqtt = sink } }

    func attachExport(connections: @escaping @Sendable () -> Int) { sources.withLock { $0.exportConnections = connections } }

    // MARK: - Reading them

    /// Sets the gauges that depend on the time or are read from the parts.
    public func refresh() {
        let now = clocks.wall()
        for metrics in devices.values { metrics.refresh(now: now) }
        let (attached, hub, exportConnections, sink) = sources.withLock { ($0.links, $0.hub, $0.exportConnections, $0.mqtt) }
        let time = clocks.now()
        for (label, metrics) in links { metrics.refresh(now: time, link: attached[label]) }
        if let hub { stream.subscribers.set(hub.subscriberCount) }
        if let exportConnections, let export { export.connections.set(exportConnections()) }
        if let sink, let mqtt { mqtt.refresh(sink.counters) }
    }

    /// The Prometheus text exposition, refreshed, with a `# HELP` line for each metric.
    public func exposition() -> [UInt8] {
        refresh()
        return MetricName.withHelp(registry.emitToBuffer())
    }

    /// `/status`: the devices and the links as JSON, refreshed.
    public func statusJSON() -> [UInt8] {
        refresh()
        return StatusReport(
            devices: deviceOrder.compactMap { name in devices[name].map { (name, $0.snapshot()) } },
            links: links.keys.sorted().compactMap { label in links[label].map { (label, $0.ratio, $0.reconnectTotal) } }
        ).json()
    }
}

/// The stream's metrics: subscribers connected, and disconnections by reason.
public final class StreamMetrics: Sendable {
    let subscribers: Meter
    private let disconnects: [StreamDisconnect: CoreMetrics.Counter]

    init(factory: any MetricsFactory) {
        subscribers = Meter(label: MetricName.subscribers, dimensions: [], factory: factory)
        subscribers.set(0)
        disconnects = Dictionary(
            uniqueKeysWithValues: StreamDisconnect.allCases.map {
                ($0, CoreMetrics.Counter(label: MetricName.disconnects, dimensions: [("reason", $0.rawValue)], factory: factory))
            })
    }

    /// A subscriber's connection ended, for `reason`.
    public func disconnected(_ reason: StreamDisconnect) { disconnects[reason]?.increment() }
}

/// The export's metrics: requests by unit, function and result, and connections open.
public final class ExportMetrics: Sendable {
    let connections: Meter
    /// By unit, then function code (3, 4), then result.
    private let requests: [UInt8: [RegisterKind: [ExportResult: CoreMetrics.Counter]]]

    /// The result label of an export request.
    enum ExportResult: String, CaseIterable {
        case ok, exception
    }

    init(units: [Int], factory: any MetricsFactory) {
        connections = Meter(label: MetricName.exportConnections, dimensions: [], factory: factory)
        connections.set(0)
        var requests: [UInt8: [RegisterKind: [ExportResult: CoreMetrics.Counter]]] = [:]
        for unit in units {
            for kind in [RegisterKind.holding, .input] {
                let function = kind == .holding ? "read_holding_registers" : "read_input_registers"
                for result in ExportResult.allCases {
                    requests[UInt8(clamping: unit), default: [:]][kind, default: [:]][result] = CoreMetrics.Counter(
                        label: MetricName.exportRequests,
                        dimensions: [("unit", String(unit)), ("function", function), ("result", result.rawValue)], factory: factory)
                }
            }
        }
        self.requests = requests
    }

    /// One export read was answered (`ok`: with registers). Units no device has are not counted.
    func answered(unit: UInt8, kind: RegisterKind, ok: Bool) {
        requests[unit]?[kind]?[ok ? .ok : .exception]?.increment()
    }
}

/// Why a stream subscriber's connection ended.
public enum StreamDisconnect: String, Sendable, CaseIterable {
    /// It closed it.
    case closed
    /// It fell behind past the buffer limit.
    case slow
    /// It was refused (the subscriber cap).
    case refused
    /// The gateway shut down.
    case shutdown
}

/// The MQTT output's metrics, copied from the sink's counters at each refresh.
final class MQTTMetrics: Sendable {
    private let connected: Meter
    private let published: CoreMetrics.Counter
    private let buffered: Meter
    private let dropped: CoreMetrics.Counter
    /// The sink's totals as copied at the last refresh.
    private let last = Mutex((published: 0, dropped: 0))

    init(factory: PrometheusMetricsFactory) {
        connected = Meter(label: MetricName.mqttConnected, factory: factory)
        published = CoreMetrics.Counter(label: MetricName.mqttPublished, factory: factory)
        buffered = Meter(label: MetricName.mqttBuffered, factory: factory)
        dropped = CoreMetrics.Counter(label: MetricName.mqttDropped, factory: factory)
        connected.set(0)
        buffered.set(0)
    }

    func refresh(_ counters: (connected: Bool, published: Int, buffered: Int, dropped: Int)) {
        connected.set(counters.connected ? 1 : 0)
        buffered.set(counters.buffered)
        last.withLock { l in
            published.increment(by: max(0, counters.published - l.published))
            dropped.increment(by: max(0, counters.dropped - l.dropped))
            l = (counters.published, counters.dropped)
        }
    }
}
