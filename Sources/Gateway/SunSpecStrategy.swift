import Logging
import Modbus
import SunSpec

/// What a SunSpec device's discovery and polls need to know about it.
struct SunSpecDevice: Sendable {
    let config: DeviceConfig
    let reader: any RegisterReader
    /// The built-in models, adjusted by the device's quirks.
    let catalog: ModelCatalog
    /// The unit id on the wire (the configured one, moved by a unit-offset quirk).
    let unit: Int
    let clocks: Clocks
    let logger: Logger

    /// The device; its quirks adjust the catalog and the unit id.
    init(config: DeviceConfig, reader: any RegisterReader, catalog: ModelCatalog, clocks: Clocks, logger: Logger) {
        self.config = config
        self.reader = reader
        self.catalog = config.quirks.catalog(catalog)
        self.unit = config.unit + config.quirks.unitOffset
        self.clocks = clocks
        self.logger = logger
    }
}

/// A SunSpec device: its map is discovered (from the configured base or the usual ones), then its
/// dynamic models are polled along a `PollPlan` (see `Session`). A map with fewer models than the
/// last one found is suspect (a device busy or half-booted during discovery) and is discovered again
/// (up to 3 times) before it is believed.
struct SunSpecStrategy: PollStrategy {
    let device: SunSpecDevice
    var session: Session?
    var lastModels: [ModelHeader] = []
    var suspectShorter = 0

    init(device: SunSpecDevice) { self.device = device }

    mutating func discover() async -> DiscoveryOutcome {
        session = nil
        let config = device.config
        let map: DiscoveredMap
        do {
            // Every discovery starts from the configured limit and probes every register again
            // (holes a firmware update filled are read; a limit lowered under load is forgotten).
            map = try await Discovery(
                reader: device.reader, unit: device.unit, kind: config.registers, maxRegisters: config.maxRegisters,
                timeout: config.timeout, clocks: device.clocks
            )
            .run(base: config.base ?? config.quirks.base)
        } catch {
            return Task.isCancelled ? .stopped : .failed(error.message)
        }
        if map.models.count < lastModels.count, suspectShorter < 3 {
            suspectShorter += 1
            return .again("map shorter than the last one found (models \(map.models.map(\.id)), before \(lastModels.map(\.id)))")
        }
        suspectShorter = 0
        lastModels = map.models
        if !map.notes.isEmpty { device.logger.info("discovered", metadata: ["notes": "\(map.notes.joined(separator: "; "))"]) }
        let session = Session(device: device, map: map)
        self.session = session
        return .found(readings: session.firstReadings(), registers: session.registers, models: map.models.map(\.id))
    }

    mutating func poll() async -> PollOutcome {
        // Taken out while it polls, so its register image has one owner and is updated in place
        // (a second reference would copy the whole image on the first insert of every poll).
        guard var session = session.take() else { return .changed("no map") }
        let outcome = await session.poll()
        self.session = session
        return outcome
    }
}
