import Captures
import Foundation
import Modbus
import SunSpec

/// One discovered map being polled, until it changes or the device fails.
///
/// The plan reads the dynamic models minus the registers the device refuses (discovery's holes), so
/// no request asks for a hole. While polling, exception 3 (a read too large) lowers the request size
/// for a while (tried upwards again after `raiseAfter` good polls, up to what discovery found);
/// exception 2 (illegal address) is asked once more, then the refused registers are narrowed down,
/// recorded as holes and the plan made again. Neither takes a device that still answers offline.
/// Busy (exception 6, or 5) is asked again after a short wait. A device with no dynamic model has
/// its model headers read every interval, so it is still seen to fail and come back.
struct Session {
    /// Good polls at a lowered size limit before a larger one is tried again.
    static let raiseAfter = 10
    /// Reads spent narrowing refused registers down, per refused request.
    static let narrowBudget = 64
    /// Waits before the retries of a request the device answers busy.
    static let busyRetries: [Duration] = [.milliseconds(50), .milliseconds(100), .milliseconds(200)]

    let device: SunSpecDevice
    let map: DiscoveredMap
    /// The dynamic models polled, with their definitions.
    let polled: [(header: ModelHeader, definition: ModelDefinition?, index: Int)]
    /// The headers checked every poll for a changed map: the polled models', or, when nothing is
    /// dynamic, every model's (the poll then reads only those).
    let watched: [ModelHeader]
    var image: RegisterImage
    var holes: Holes
    var plan: PollPlan {
        didSet { readsOf = Self.reads(of: polled, in: plan) }
    }
    /// For each polled model, the indices of the plan's requests that read its registers.
    var readsOf: [[Int]]
    /// The size limit discovery found (the device's, or the configured one): a lowered limit comes back to it.
    let ceiling: Int
    var maxRegisters: Int
    var goodPolls = 0

    init(device: SunSpecDevice, map: DiscoveredMap) {
        self.device = device
        self.map = map
        self.image = map.image
        self.holes = map.holes
        self.ceiling = max(1, min(device.config.maxRegisters, map.maxRegisters))
        self.maxRegisters = ceiling
        var counts: [Int: Int] = [:]
        var polled: [(ModelHeader, ModelDefinition?, Int)] = []
        for header in map.models {
            let index = counts[header.id, default: 0]
            counts[header.id] = index + 1
            if let wanted = device.config.models, !wanted.contains(header.id) { continue }
            let definition = device.catalog.definition(for: header.id)
            if let definition, Self.isStatic(definition) { continue }
            polled.append((header, definition, index))
        }
        self.polled = polled
        self.watched = polled.isEmpty ? map.models : polled.map(\.0)
        self.plan = PollPlan(spans: [], maxRegisters: ceiling)
        self.readsOf = []
        self.plan = makePlan()
        self.readsOf = Self.reads(of: self.polled, in: self.plan)
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

    /// The requests of `plan` that read each polled model's registers.
    static func reads(of polled: [(header: ModelHeader, definition: ModelDefinition?, index: Int)], in plan: PollPlan) -> [[Int]] {
        polled.map { model in plan.requests.indices.filter { plan.requests[$0].range.overlaps(model.header.span) } }
    }

    /// Fixed blocks (the `blocks` quirk) whatever happens; otherwise the models' readable runs.
    private func makePlan() -> PollPlan {
        let fixed = device.config.quirks.blocks
        if !fixed.isEmpty { return PollPlan(fixed: fixed, maxRegisters: maxRegisters) }
        let spans = polled.isEmpty ? watched.map { $0.address..<($0.address + 2) } : polled.map(\.header.span)
        return PollPlan(spans: spans, maxRegisters: maxRegisters, holes: holes)
    }

    /// Every model found (static ones included), each with `ts` = when the last of its registers arrived.
    func firstReadings() -> [Reading] {
        let decoded: DecodedDevice
        do {
            decoded = try DeviceDecoder.decode(image, base: map.base, catalog: device.catalog)
        } catch {
            device.logger.error("discovered map does not decode", metadata: ["error": "\(error)"])
            return []
        }
        let fallback = device.clocks.wall()
        var readings: [Reading] = []
        for instance in decoded.models {
            if let wanted = device.config.models, !wanted.contains(instance.model.id) { continue }
            let span = instance.address..<(instance.address + 2 + instance.model.length)
            readings.append(Reading(device: device.config.name, instance: instance, timestamp: map.arrival(of: span) ?? fallback))
        }
        return readings
    }

    /// The registers as read, for the export.
    var registers: DeviceRegisters { DeviceRegisters(image: image, models: map.models) }

    /// Reads the plan once: the polled models' readings, or why the map is to be found again.
    mutating func poll() async -> PollOutcome {
        var readAt: [Int: Date] = [:]  // request index -> when its registers arrived
        var index = 0
        // The plan's requests go to the reader together (one turn of a link's thread); the batch
        // stops at a failed one, which is retried alone, and the rest go as a new batch.
        reading: while index < plan.requests.count {
            let answers = await device.reader.read(
                unit: device.unit, ranges: plan.requests[index...].map(\.range), kind: device.config.registers,
                timeout: device.config.timeout, wall: device.clocks.wall)
            guard !answers.isEmpty else { return .failed("the reader gave no answer to \(plan.requests[index])") }
            for answer in answers {
                let request = plan.requests[index]
                do {
                    switch answer {
                    case .success(let read):
                        readAt[index] = read.arrived
                        image.insert(.init(start: request.start, registers: read.registers))
                    case .failure(let error):
                        let registers = try await retry(request, after: error)
                        readAt[index] = device.clocks.wall()
                        image.insert(.init(start: request.start, registers: registers))
                    }
                    index += 1
                } catch {
                    if Task.isCancelled { return .stopped }
                    switch await recover(from: error, at: request) {
                    case .replanned:
                        index = 0
                        readAt = [:]
                        continue reading
                    case .outcome(let outcome):
                        return outcome
                    }
                }
            }
        }
        if let changed = checkHeaders() { return .changed(changed) }
        let readings = polled.isEmpty ? [] : readings(readAt)
        raiseLimitAfterGoodPolls()
        return .polled(readings, registers)
    }

    private enum Recovery {
        case replanned
        case outcome(PollOutcome)
    }

    /// What a failed request means: a smaller size, new holes, a changed map, or a failed device.
    private mutating func recover(from error: ModbusError, at request: PollPlan.Request) async -> Recovery {
        guard device.config.quirks.blocks.isEmpty else { return .outcome(.failed("\(error)")) }
        if error.isException(3), request.count > 1 {
            let smaller = max(1, min(maxRegisters, request.count) / 2)
            device.logger.notice("device refuses reads of \(request.count) registers: max_registers \(maxRegisters) -> \(smaller)")
            maxRegisters = smaller
            goodPolls = 0
            plan = makePlan()
            return .replanned
        }
        if error.isException(2) || error.isException(3) {
            var budget = Self.narrowBudget
            let before = holes.count
            do {
                try await narrow(request.range, budget: &budget)
            } catch {
                return .outcome(Task.isCancelled ? .stopped : .failed("\(error)"))
            }
            let found = holes.count - before
            if let header = watched.first(where: { holes.overlaps($0.address..<($0.address + 2)) }) {
                return .outcome(.changed("the header of model \(header.id) at \(header.address) is refused"))
            }
            device.logger.notice(
                "device refuses registers in \(request): \(found) recorded as holes, polling around them",
                metadata: ["holes": "\(holes.count)"])
            plan = makePlan()
            return .replanned
        }
        return .outcome(.failed("\(error)"))
    }

    /// Reads a refused range in halves down to single registers; a register refused twice is a
    /// hole (once may be a device's passing refusal). Past the budget, what is left unread counts
    /// as refused until the next discovery probes it again. Anything but a refusal is thrown.
    private mutating func narrow(_ range: Range<Int>, budget: inout Int) async throws(ModbusError) {
        guard !range.isEmpty else { return }
        guard budget > 0 else {
            refuse(range)
            return
        }
        budget -= 1
        do {
            let registers = try await read(PollPlan.Request(start: range.lowerBound, count: range.count))
            image.insert(.init(start: range.lowerBound, registers: registers))
            return
        } catch {
            guard error.isException(2) || error.isException(3) else { throw error }
        }
        if range.count == 1 {
            refuse(range)
            return
        }
        let half = range.count / 2
        try await narrow(range.lowerBound..<(range.lowerBound + half), budget: &budget)
        try await narrow((range.lowerBound + half)..<range.upperBound, budget: &budget)
    }

    /// Records refused registers: a hole, and no value of the device's any more.
    private mutating func refuse(_ range: Range<Int>) {
        holes.insert(range)
        image.remove(range)
    }

    /// After `raiseAfter` good polls at a lowered limit, the limit doubles again (up to the ceiling).
    private mutating func raiseLimitAfterGoodPolls() {
        guard maxRegisters < ceiling else { return }
        goodPolls += 1
        guard goodPolls >= Self.raiseAfter else { return }
        goodPolls = 0
        let larger = min(ceiling, maxRegisters * 2)
        device.logger.info("trying larger reads again: max_registers \(maxRegisters) -> \(larger)")
        maxRegisters = larger
        plan = makePlan()
    }

    /// The retries of a request of a batch that failed with `error` (`RegisterReader.retry`).
    private func retry(_ request: PollPlan.Request, after error: ModbusError) async throws(ModbusError) -> [UInt16] {
        try await device.reader.retry(
            after: error, unit: device.unit, address: request.start, count: request.count, kind: device.config.registers,
            timeout: device.config.timeout, busyRetries: Self.busyRetries, clocks: device.clocks)
    }

    /// One request, with the retries of `RegisterReader.readRetrying`.
    private func read(_ request: PollPlan.Request) async throws(ModbusError) -> [UInt16] {
        try await device.reader.readRetrying(
            unit: device.unit, address: request.start, count: request.count, kind: device.config.registers, timeout: device.config.timeout,
            busyRetries: Self.busyRetries, clocks: device.clocks)
    }

    /// A model whose ID or L changed (a firmware update) means a new discovery.
    private func checkHeaders() -> String? {
        for header in watched {
            guard let id = image.value(at: header.address), let length = image.value(at: header.address + 1) else { continue }
            if Int(id) != header.id || Int(length) != header.length {
                return "model \(header.id) at \(header.address) now reads id \(id), L \(length)"
            }
        }
        return nil
    }

    /// The polled models' readings, each with `ts` = when the last of its registers arrived.
    private func readings(_ readAt: [Int: Date]) -> [Reading] {
        var readings: [Reading] = []
        readings.reserveCapacity(polled.count)
        for (k, (header, definition, index)) in polled.enumerated() {
            let window = image.window(start: header.address, count: header.length + 2)
            let model =
                definition.map { ModelDecoder.decode($0, window: window, length: header.length) }
                ?? ModelDecoder.undefined(id: header.id, window: window, length: header.length)
            readings.append(
                Reading(
                    device: device.config.name, instance: ModelInstance(address: header.address, index: index, model: model),
                    timestamp: readsOf[k].compactMap { readAt[$0] }.max()))
        }
        return readings
    }
}
