import Captures
import Foundation
import Logging
import Modbus
import SunSpec

/// Polls one device for as long as it runs: discovers its map, publishes every model once, then
/// reads its dynamic models every interval along a `PollPlan`, publishing a reading per model
/// instance. A unit that fails is marked offline and retried with exponential backoff (1 s doubling
/// to 60 s) without holding up anyone else; a changed model header or a recovery from offline
/// means a new discovery.
public struct DevicePoller: Sendable {
    let config: DeviceConfig
    let reader: any RegisterReader
    let hub: Hub
    let catalog: ModelCatalog
    let export: ExportStore?
    let logger: Logger
    /// The unit id on the wire (the configured one, moved by a unit-offset quirk).
    let unit: Int

    /// Creates a poller; the device's quirks adjust the catalog, base and unit id.
    public init(
        config: DeviceConfig, reader: any RegisterReader, hub: Hub, catalog: ModelCatalog = .builtin, export: ExportStore? = nil,
        logger: Logger
    ) {
        self.config = config
        self.reader = reader
        self.hub = hub
        self.catalog = config.quirks.catalog(catalog)
        self.export = export
        self.unit = config.unit + config.quirks.unitOffset
        var logger = logger
        logger[metadataKey: "device"] = "\(config.name)"
        self.logger = logger
    }

    /// Polls until the task is cancelled.
    public func run() async {
        var backoff = Backoff()
        // The models of the last map found: a shorter one is suspect (a device busy or half-booted
        // during discovery) and is discovered again before it is believed.
        var lastModels: [ModelHeader] = []
        var suspectShorter = 0
        while !Task.isCancelled {
            setStatus(.discovering)
            hub.reset(device: config.name)
            let map: DiscoveredMap
            do {
                // Every discovery starts from the configured limit and probes every register again
                // (holes a firmware update filled are read; a limit lowered under load is forgotten).
                map = try await Discovery(
                    reader: reader, unit: unit, kind: config.registers, maxRegisters: config.maxRegisters, timeout: config.timeout
                )
                .run(base: config.base ?? config.quirks.base)
            } catch {
                if Task.isCancelled { break }
                setStatus(.offline, error: error.message)
                exportOffline()
                logger.warning(
                    "discovery failed", metadata: ["error": "\(error.message)", "retry": "\(DurationText.format(backoff.current))"])
                do { try await Task.sleep(for: backoff.next()) } catch { break }
                continue
            }
            if map.models.count < lastModels.count, suspectShorter < 3 {
                suspectShorter += 1
                logger.notice(
                    "map shorter than the last one found: discovering again",
                    metadata: ["models": "\(map.models.map(\.id))", "before": "\(lastModels.map(\.id))"])
                do { try await Task.sleep(for: backoff.next()) } catch { break }
                continue
            }
            suspectShorter = 0
            lastModels = map.models
            backoff.reset()
            if !map.notes.isEmpty { logger.info("discovered", metadata: ["notes": "\(map.notes.joined(separator: "; "))"]) }
            var session = Session(poller: self, map: map)
            session.publishAll()
            setStatus(.online, models: map.models.map(\.id))
            let outcome = await session.poll()
            switch outcome {
            case .stopped:
                return
            case .changed(let why):
                logger.notice("model map changed: discovering again", metadata: ["why": "\(why)"])
                exportOffline()  // the exported map is no longer the device's
            case .failed(let error):
                setStatus(.offline, error: "\(error)")
                exportOffline()
                logger.warning("device offline", metadata: ["error": "\(error)", "retry": "\(DurationText.format(backoff.current))"])
                do { try await Task.sleep(for: backoff.next()) } catch { return }
            }
        }
    }

    /// The device's export unit answers 0x0B until its map is read again.
    func exportOffline() {
        if let exportUnit = config.exportUnit { export?.setOffline(unit: exportUnit) }
    }

    func setStatus(_ state: DeviceState, error: String? = nil, models: [Int] = []) {
        hub.publish(
            status: DeviceStatus(device: config.name, state: state, error: error, models: models, timestamp: Timestamp.format(Date())))
    }
}

/// Exponential backoff: 1 s, 2 s, 4 s ... capped at 60 s.
struct Backoff {
    private(set) var current: Duration = .seconds(1)

    mutating func next() -> Duration {
        defer { current = min(current * 2, .seconds(60)) }
        return current
    }

    mutating func reset() { current = .seconds(1) }
}
