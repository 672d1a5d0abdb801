import Logging
import Modbus
import ServiceLifecycle
import SunSpec

/// Polls every configured device, as one service: TCP devices concurrently, units behind one TCP
/// endpoint (a TCP-to-RTU gateway) on one shared connection, all units of a serial line on that line,
/// one request at a time on each.
public struct Engine: Service {
    let devices: [DeviceConfig]
    let hub: Hub
    let catalog: ModelCatalog
    let logger: Logger
    let readers: [String: any RegisterReader]
    let export: ExportStore?
    /// The links the engine made (none over given readers): closed when `run` ends.
    let links: [ModbusLink]

    /// An engine over real Modbus links, one per endpoint.
    public init(devices: [DeviceConfig], hub: Hub, catalog: ModelCatalog = .builtin, export: ExportStore? = nil, logger: Logger) {
        var links: [Endpoint: ModbusLink] = [:]
        var readers: [String: any RegisterReader] = [:]
        for device in devices {
            let link = links[device.endpoint] ?? ModbusLink(endpoint: device.endpoint, timeout: device.timeout)
            links[device.endpoint] = link
            readers[device.name] = link
        }
        self.init(
            devices: devices, readers: readers, links: Array(links.values), hub: hub, catalog: catalog, export: export, logger: logger)
    }

    /// An engine over given readers (by device name): in-process devices in tests and benchmarks.
    public init(
        devices: [DeviceConfig], readers: [String: any RegisterReader], hub: Hub, catalog: ModelCatalog = .builtin,
        export: ExportStore? = nil,
        logger: Logger
    ) {
        self.init(devices: devices, readers: readers, links: [], hub: hub, catalog: catalog, export: export, logger: logger)
    }

    private init(
        devices: [DeviceConfig], readers: [String: any RegisterReader], links: [ModbusLink], hub: Hub, catalog: ModelCatalog,
        export: ExportStore?, logger: Logger
    ) {
        self.links = links
        self.export = export
        self.devices = devices
        self.readers = readers
        self.hub = hub
        self.catalog = catalog
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for device in devices {
                    guard let reader = readers[device.name] else { continue }
                    if let profile = device.profile {
                        let poller = ProfilePoller(
                            config: device, profile: profile, reader: reader, hub: hub, export: export, logger: logger)
                        group.addTask { await poller.run() }
                    } else {
                        let poller = DevicePoller(
                            config: device, reader: reader, hub: hub, catalog: catalog, export: export, logger: logger)
                        group.addTask { await poller.run() }
                    }
                }
            }
        }
        // Every poller has returned: no request is on the wire any more.
        for link in links { await link.shutdown() }
        logger.info("polling stopped")
    }
}
