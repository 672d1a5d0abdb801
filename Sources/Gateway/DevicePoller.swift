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
        var maxRegisters = config.maxRegisters
        while !Task.isCancelled {
            setStatus(.discovering)
            hub.reset(device: config.name)
            let map: DiscoveredMap
            do {
                map = try await Discovery(
                    reader: reader, unit: unit, kind: config.registers, maxRegisters: maxRegisters, timeout: config.timeout
                )
                .run(base: config.base ?? config.quirks.base)
            } catch {
                if Task.isCancelled { break }
                setStatus(.offline, error: error.message)
                logger.warning(
                    "discovery failed", metadata: ["error": "\(error.message)", "retry": "\(DurationText.format(backoff.current))"])
                try? await Task.sleep(for: backoff.next())
                continue
            }
            backoff.reset()
            maxRegisters = min(maxRegisters, map.maxRegisters)
            var session = Session(poller: self, map: map, maxRegisters: maxRegisters)
            session.publishAll()
            setStatus(.online, models: map.models.map(\.id))
            let outcome = await session.poll()
            maxRegisters = session.maxRegisters
            switch outcome {
            case .stopped:
                return
            case .changed(let why):
                logger.notice("model map changed: discovering again", metadata: ["why": "\(why)"])
            case .failed(let error):
                setStatus(.offline, error: "\(error)")
                if let exportUnit = config.exportUnit { export?.setOffline(unit: exportUnit) }
                logger.warning("device offline", metadata: ["error": "\(error)", "retry": "\(DurationText.format(backoff.current))"])
                try? await Task.sleep(for: backoff.next())
            }
        }
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

/// One discovered map being polled.
struct Session {
    enum Outcome {
        case stopped
        case changed(String)
        case failed(ModbusError)
    }

    let poller: DevicePoller
    let map: DiscoveredMap
    /// The dynamic models polled, with their definitions.
    let polled: [(header: ModelHeader, definition: ModelDefinition?, index: Int)]
    var image: RegisterImage
    var plan: PollPlan
    var maxRegisters: Int

    init(poller: DevicePoller, map: DiscoveredMap, maxRegisters: Int) {
        self.poller = poller
        self.map = map
        self.image = map.image
        self.maxRegisters = maxRegisters
        var counts: [Int: Int] = [:]
        var polled: [(ModelHeader, ModelDefinition?, Int)] = []
        for header in map.models {
            let index = counts[header.id, default: 0]
            counts[header.id] = index + 1
            if let wanted = poller.config.models, !wanted.contains(header.id) { continue }
            let definition = poller.catalog.definition(for: header.id)
            if let definition, Self.isStatic(definition) { continue }
            polled.append((header, definition, index))
        }
        self.polled = polled
        let fixed = poller.config.quirks.blocks
        self.plan =
            fixed.isEmpty
            ? PollPlan(spans: polled.map(\.0.span), maxRegisters: maxRegisters) : PollPlan(fixed: fixed, maxRegisters: maxRegisters)
    }

    /// Whether every published point of a model is static: read at discovery (and after a
    /// reconnect, which rediscovers) only. Model 1 counts as static: its one point not marked so,
    /// DA, is the device's Modbus address.
    static func isStatic(_ definition: ModelDefinition) -> Bool {
        if definition.id == 1 { return true }
        func all(_ g: GroupDefinition) -> Bool {
            g.points.allSatisfy { !$0.isPublished || $0.isStatic || $0.name == "ID" || $0.name == "L" } && g.groups.allSatisfy(all)
        }
        return all(definition.group)
    }

    /// Publishes every model found (static ones included) with its meta record.
    func publishAll() {
        exportMap()
        guard let decoded = try? DeviceDecoder.decode(image, base: map.base, catalog: poller.catalog) else { return }
        let ts = Timestamp.format(Date())
        for instance in decoded.models {
            if let wanted = poller.config.models, !wanted.contains(instance.model.id) { continue }
            var reading = JSONBuffer(capacity: 4096)
            ReadingRecord.append(instance, device: poller.config.name, timestamp: ts, to: &reading)
            poller.hub.publish(device: poller.config.name, instance: instance, reading: reading.bytes)
        }
    }

    /// Polls until cancelled, the map changes, or the device fails.
    mutating func poll() async -> Outcome {
        let interval = poller.config.interval
        // Discovery just published every model: the first poll comes one interval later.
        var next = ContinuousClock.now + interval
        do { try await Task.sleep(until: next) } catch { return .stopped }
        while !Task.isCancelled {
            if polled.isEmpty {
                try? await Task.sleep(for: interval)
                continue
            }
            var readAt: [Int: Date] = [:]  // request index -> when its registers arrived
            var index = 0
            while index < plan.requests.count {
                let request = plan.requests[index]
                do {
                    let registers = try await readWithRetry(request)
                    readAt[index] = Date()
                    image.insert(.init(start: request.start, registers: registers))
                    index += 1
                } catch {
                    if Task.isCancelled { return .stopped }
                    if (error.isException(2) || error.isException(3)), request.count > 1, let smaller = smallerLimit() {
                        poller.logger.notice(
                            "device refuses reads of \(request.count) registers: max_registers \(maxRegisters) -> \(smaller)")
                        maxRegisters = smaller
                        plan = PollPlan(spans: polled.map(\.header.span), maxRegisters: maxRegisters)
                        index = 0
                        readAt = [:]
                        continue
                    }
                    return .failed(error)
                }
            }
            if let changed = checkHeaders() { return .changed(changed) }
            publish(readAt)
            exportMap()
            next += interval
            let now = ContinuousClock.now
            if next < now { next = now }  // behind: skip the missed ticks
            do { try await Task.sleep(until: next) } catch { return .stopped }
        }
        return .stopped
    }

    /// Hands the current map to the SunSpec export, if the device is exported.
    private func exportMap() {
        guard let unit = poller.config.exportUnit, let export = poller.export else { return }
        export.update(unit: unit, image: ExportStore.relocate(image, models: map.models))
    }

    /// A timeout is tried once more at once before the unit counts as failed.
    private func readWithRetry(_ request: PollPlan.Request) async throws(ModbusError) -> [UInt16] {
        let config = poller.config
        do {
            return try await poller.reader.read(
                unit: poller.unit, address: request.start, count: request.count, kind: config.registers, timeout: config.timeout)
        } catch {
            guard error.kind == .timeout, !Task.isCancelled else { throw error }
            return try await poller.reader.read(
                unit: poller.unit, address: request.start, count: request.count, kind: config.registers, timeout: config.timeout)
        }
    }

    /// Half the current limit (models larger than it are then split across reads).
    private func smallerLimit() -> Int? {
        maxRegisters > 1 ? maxRegisters / 2 : nil
    }

    /// A model whose ID or L changed (a firmware update) means a new discovery.
    private func checkHeaders() -> String? {
        for (header, _, _) in polled {
            guard let id = image.value(at: header.address), let length = image.value(at: header.address + 1) else { continue }
            if Int(id) != header.id || Int(length) != header.length {
                return "model \(header.id) at \(header.address) now reads id \(id), L \(length)"
            }
        }
        return nil
    }

    private func publish(_ readAt: [Int: Date]) {
        var records: [(address: Int, bytes: [UInt8])] = []
        records.reserveCapacity(polled.count)
        var buffer = JSONBuffer(capacity: 1 << 14)
        for (header, definition, index) in polled {
            let window = image.window(start: header.address, count: header.length + 2)
            let model =
                definition.map { ModelDecoder.decode($0, window: window, length: header.length) }
                ?? ModelDecoder.undefined(id: header.id, window: window, length: header.length)
            let request = plan.requests.firstIndex { $0.range.contains(header.span.upperBound - 1) }
            let ts = request.flatMap { readAt[$0] }.map(Timestamp.format)
            buffer.removeAll()
            ReadingRecord.append(
                ModelInstance(address: header.address, index: index, model: model), device: poller.config.name, timestamp: ts, to: &buffer)
            records.append((header.address, buffer.bytes))
        }
        poller.hub.publish(device: poller.config.name, readings: records)
    }
}
