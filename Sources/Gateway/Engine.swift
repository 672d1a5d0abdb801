import Logging
import Modbus
import ServiceLifecycle
import SunSpec

/// Runs every configured device, as one service: TCP devices concurrently, units behind one TCP
/// endpoint (a TCP-to-RTU gateway) on one shared connection, all units of a serial line on that line,
/// one request at a time on each. Each device has a `DeviceRunner`; what they find goes to `sink`.
/// The engine owns the links it opens and closes them when it stops.
public struct Engine: Service {
    let devices: [DeviceConfig]
    let readers: [String: any RegisterReader]
    let links: [ModbusLink]
    let sink: any GatewaySink
    let catalog: ModelCatalog
    let clocks: Clocks
    let logger: Logger
    /// The metrics its runners, readers and links report to (nil: none kept).
    var metrics: GatewayMetrics?
    /// Each device's inbox, by name: commands its runner serves between polls.
    public let inboxes: [String: DeviceInbox]

    /// An engine over real Modbus links, one per endpoint; `metrics` (if any) hears of each link's
    /// requests and reconnects, each device's requests and polls.
    public init(
        devices: [DeviceConfig], sink: any GatewaySink, catalog: ModelCatalog = .builtin, clocks: Clocks = .real, logger: Logger,
        metrics: GatewayMetrics? = nil
    ) {
        var links: [Endpoint: ModbusLink] = [:]
        var readers: [String: any RegisterReader] = [:]
        for device in devices {
            let observer = metrics?.links[GatewayMetrics.label(device.endpoint)]
            let link = links[device.endpoint] ?? ModbusLink(endpoint: device.endpoint, timeout: device.timeout, observer: observer)
            links[device.endpoint] = link
            readers[device.name] = link
        }
        for link in links.values { metrics?.attach(link) }
        self.init(
            devices: devices, readers: readers, links: Array(links.values), sink: sink, catalog: catalog, clocks: clocks, logger: logger)
        self.metrics = metrics
    }

    /// An engine over given readers (by device name): in-process devices in tests and benchmarks.
    public init(
        devices: [DeviceConfig], readers: [String: any RegisterReader], sink: any GatewaySink, catalog: ModelCatalog = .builtin,
        clocks: Clocks = .real, logger: Logger, metrics: GatewayMetrics? = nil
    ) {
        self.init(devices: devices, readers: readers, links: [], sink: sink, catalog: catalog, clocks: clocks, logger: logger)
        self.metrics = metrics
    }

    private init(
        devices: [DeviceConfig], readers: [String: any RegisterReader], links: [ModbusLink], sink: any GatewaySink, catalog: ModelCatalog,
        clocks: Clocks, logger: Logger
    ) {
        self.devices = devices
        self.readers = readers
        self.links = links
        self.sink = sink
        self.catalog = catalog
        self.clocks = clocks
        self.logger = logger
        inboxes = Dictionary(devices.map { ($0.name, DeviceInbox()) }, uniquingKeysWith: { first, _ in first })
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for device in devices {
                    guard let runner = runner(for: device) else { continue }
                    group.addTask { await runner.run() }
                }
            }
        }
        // Every poller has returned: no request is on the wire any more.
        for link in links { await link.shutdown() }
        logger.info("polling stopped")
    }

    /// The runner of a device, with the strategy its config asks for.
    func runner(for device: DeviceConfig) -> DeviceRunner? {
        guard var reader = readers[device.name], let inbox = inboxes[device.name] else { return nil }
        let deviceMetrics = metrics?.devices[device.name]
        if let deviceMetrics { reader = InstrumentedReader(reader: reader, metrics: deviceMetrics) }
        var logger = logger
        logger[metadataKey: "device"] = "\(device.name)"
        let strategy: any PollStrategy =
            if let profile = device.profile {
                ProfileStrategy(config: device, profile: profile, reader: reader, clocks: clocks, logger: logger)
            } else {
                SunSpecStrategy(device: SunSpecDevice(config: device, reader: reader, catalog: catalog, clocks: clocks, logger: logger))
            }
        return DeviceRunner(
            name: device.name, interval: device.interval, strategy: strategy, sink: sink, inbox: inbox, clocks: clocks, logger: logger,
            metrics: deviceMetrics)
    }
}
