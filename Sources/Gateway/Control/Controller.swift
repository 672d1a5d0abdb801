import Captures
import Foundation
import Logging
import Modbus
import SunSpec
import Synchronization

/// The control pipeline: every request, from the control socket, the SunSpec export or a Sparkplug B
/// DCMD, is checked here (device, allow list, limits, ttl, rate, the audit), carried out by the
/// device's runner between two of its polls (encoded at the device's own scale factor, its intent line
/// appended to the audit, written, read back), its outcome audited and reported on the stream. A `set`
/// with a ttl is reverted when it runs out, and at shutdown.
///
/// Its `observer` is a sink of the runners' events: it keeps each controlled device's latest
/// registers (the last values of `capabilities`, the heartbeat's start) and whether it is online.
public final class Controller: Sendable {
    /// Most control jobs queued for one device; past them a request is `busy`.
    public static let queueLimit = 8
    /// How long the reverts at shutdown may take, in all.
    public static let shutdownBound: Duration = .seconds(10)

    let settings: ControlSettings
    let devices: [String: DeviceConfig]
    let inboxes: [String: DeviceInbox]
    let audit: AuditLog
    let events: any GatewaySink
    let clocks: Clocks
    let logger: Logger
    /// Each device's model catalog, as its runner decodes it (a SunSpec device's quirks applied).
    let catalogs: [String: ModelCatalog]
    /// What the controller knows of the devices, from their runners' events.
    public let observer: ControlObserver

    struct Key: Hashable {
        let device: String
        let point: PointPath
    }

    struct LiveTTL {
        let generation: Int
        let task: Task<Void, Never>
        let point: AllowedPoint
    }

    private struct State {
        var lastWrite: [Key: Duration] = [:]
        var ttls: [Key: LiveTTL] = [:]
        var generation = 0
        var heartbeats: [String: UInt64] = [:]
        var stopping = false
    }

    private let state = Mutex(State())

    /// The controller of `devices` (those with `control:`), their runners' inboxes, reporting to `events`;
    /// `catalog` is the engine's (each SunSpec device's quirks adjust it as its runner does).
    public init(
        settings: ControlSettings, devices: [DeviceConfig], inboxes: [String: DeviceInbox], observer: ControlObserver,
        events: any GatewaySink, catalog: ModelCatalog = .builtin, clocks: Clocks, logger: Logger
    ) {
        self.observer = observer
        self.settings = settings
        self.devices = Dictionary(devices.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.inboxes = inboxes
        self.catalogs = Dictionary(
            devices.filter { $0.control != nil }.map { ($0.name, $0.profile == nil ? $0.quirks.catalog(catalog) : .builtin) },
            uniquingKeysWith: { first, _ in first })
        self.audit = AuditLog(path: settings.auditPath, logger: logger)
        self.events = events
        self.clocks = clocks
        self.logger = logger
    }

    // MARK: - Requests

    /// Answers one request (of the control socket, or a metric of a DCMD): audited and reported.
    public func handle(_ request: ControlRequest, client: ControlClient) async -> ControlRecord {
        func record(_ outcome: ControlOutcome, point: String? = request.point, value: SetpointValue? = request.value) -> ControlRecord {
            ControlRecord(
                timestamp: Timestamp.format(clocks.wall()), id: request.id, client: client, op: request.op.rawValue, device: request.device,
                point: point, value: value, ttl: request.ttl, outcome: outcome)
        }
        func finished(_ outcome: ControlOutcome, point: String? = request.point, value: SetpointValue? = request.value) -> ControlRecord {
            let r = record(outcome, point: point, value: value)
            report(r)
            return r
        }
        guard let device = devices[request.device] else {
            return finished(ControlOutcome(.unknownDevice, error: "no device named \(request.device)"))
        }
        if request.op == .capabilities {
            guard let control = device.control else {
                return finished(ControlOutcome(.notAllowed, error: "\(device.name) takes no control"))
            }
            var r = record(ControlOutcome(.ok), point: nil)
            r.capabilities = capabilities(device: device, control: control)
            report(r)
            return r
        }
        guard let text = request.point else { return finished(ControlOutcome(.badRequest, error: "missing field \"point\"")) }
        let path: PointPath
        do { path = try PointPath(parsing: text) } catch {
            return finished(ControlOutcome(.unknownPoint, error: "\(text): \(error)"))
        }
        let canonical = path.description
        guard let control = device.control, let allowed = control.allowed(path) else {
            if let definition = ModelCatalog.builtin.definition(for: path.model) {
                do { _ = try definition.point(at: path) } catch {
                    return finished(ControlOutcome(.unknownPoint, error: "\(canonical): \(error)"), point: canonical)
                }
            } else {
                return finished(ControlOutcome(.unknownPoint, error: "\(canonical): no model \(path.model)"), point: canonical)
            }
            return finished(ControlOutcome(.notAllowed, error: "\(canonical) is not in \(device.name)'s allow list"), point: canonical)
        }
        switch request.op {
        case .capabilities:
            return finished(ControlOutcome(.badRequest, error: "unreachable"))
        case .get:
            let outcome = await run(.get(allowed), device: device.name)[0]
            return finished(outcome, point: canonical)
        case .release:
            guard let revert = allowed.revert else {
                return finished(ControlOutcome(.badRequest, error: "\(canonical) has no revert value to release to"), point: canonical)
            }
            cancelTTL(Key(device: device.name, point: path))
            let outcome = await write(
                [ControlWrite(point: allowed, value: revert)], device: device.name, rateLimited: false,
                context: AuditContext(id: request.id, client: client, op: request.op.rawValue, ttl: request.ttl))[0]
            // The value a release writes is the point's revert value: its intent and outcome lines say so.
            return finished(outcome, point: canonical, value: revert)
        case .set:
            guard let value = request.value else { return finished(ControlOutcome(.badRequest, error: "missing field \"value\"")) }
            if let ttl = request.ttl {
                guard allowed.revert != nil else {
                    return finished(
                        ControlOutcome(.badRequest, error: "\(canonical) has no revert value: a ttl cannot be given"), point: canonical)
                }
                guard ttl <= settings.maxTTL else {
                    return finished(
                        ControlOutcome(
                            .badRequest,
                            error: "ttl \(DurationText.format(ttl)) is over control.max_ttl (\(DurationText.format(settings.maxTTL)))"),
                        point: canonical)
                }
            }
            let key = Key(device: device.name, point: path)
            let outcome = await write(
                [ControlWrite(point: allowed, value: value)], device: device.name, rateLimited: true,
                context: AuditContext(id: request.id, client: client, op: request.op.rawValue, ttl: request.ttl))[0]
            if [.applied, .timeout, .notApplied].contains(outcome.result) {
                // Another set of the point ends a ttl running; a new ttl starts its own.
                cancelTTL(key)
                if let ttl = request.ttl { startTTL(key, point: allowed, ttl: ttl) }
            }
            return finished(outcome, point: canonical)
        }
    }

    /// Writes points through the pipeline: the allow list's limits, the rate limit, the audit, then
    /// the device's runner, which appends their intent lines (`context`) immediately before it writes.
    /// One outcome per point; a refusal of one refuses all. The caller audits the outcomes.
    func write(_ writes: [ControlWrite], device: String, rateLimited: Bool, context: AuditContext) async -> [ControlOutcome] {
        for (i, w) in writes.enumerated() {
            if let refusal = w.point.refusal(of: w.value) {
                return writes.indices.map {
                    $0 == i ? refusal : ControlOutcome(refusal.result, error: "not written: \(w.point.path) was refused")
                }
            }
        }
        if rateLimited {
            let now = clocks.now()
            let limited = state.withLock { s -> (AllowedPoint, Duration)? in
                for w in writes {
                    if let interval = w.point.minInterval, let last = s.lastWrite[Key(device: device, point: w.point.path)],
                        now - last < interval
                    {
                        return (w.point, interval)
                    }
                }
                return nil
            }
            if let (point, interval) = limited {
                let error = "\(point.path) was written less than \(DurationText.format(interval)) ago (min_interval)"
                return writes.map { _ in ControlOutcome(.rateLimited, error: error) }
            }
        }
        let outcomes = await run(.write(writes), device: device, intent: intent(of: writes, device: device, context: context))
        let now = clocks.now()
        state.withLock { s in
            for (w, o) in zip(writes, outcomes) where o.write != nil { s.lastWrite[Key(device: device, point: w.point.path)] = now }
        }
        return outcomes
    }

    /// Runs an action on a device's runner, after checking the audit can be written; `intent` is
    /// called by the runner immediately before it writes.
    private func run(_ action: ControlAction, device: String, intent: ControlIntent? = nil) async -> [ControlOutcome] {
        guard audit.isWritable() else {
            return Array(repeating: ControlOutcome(.precondition, error: "the audit \(audit.path) cannot be written"), count: action.count)
        }
        guard let inbox = inboxes[device] else {
            return Array(repeating: ControlOutcome(.offline, error: "the device is not polled"), count: action.count)
        }
        return await ControlJob.run(action, intent: intent, on: inbox, limit: Self.queueLimit)
    }

    /// Audits a record and puts it on the stream.
    func report(_ record: ControlRecord) {
        if !audit.append(record.auditLine()) {
            logger.error(
                "control request answered but not audited",
                metadata: ["id": "\(record.id ?? "-")", "result": "\(record.outcome.result.rawValue)"])
        }
        events.receive(.control(record))
    }

    // MARK: - Time to live

    private func startTTL(_ key: Key, point: AllowedPoint, ttl: Duration) {
        state.withLock { s in
            guard !s.stopping else { return }
            s.generation += 1
            let generation = s.generation
            let clocks = clocks
            let task = Task { [weak self] in
                do { try await clocks.sleep(for: ttl) } catch { return }  // cancelled: set again, released, or stopping
                await self?.expire(key, generation: generation)
            }
            s.ttls[key] = LiveTTL(generation: generation, task: task, point: point)
        }
    }

    private func cancelTTL(_ key: Key) {
        state.withLock { $0.ttls.removeValue(forKey: key) }?.task.cancel()
    }

    /// A ttl ran out: the point's revert value is written and audited.
    private func expire(_ key: Key, generation: Int) async {
        let point = state.withLock { s -> AllowedPoint? in
            guard let live = s.ttls[key], live.generation == generation else { return nil }
            s.ttls[key] = nil
            return live.point
        }
        guard let point else { return }
        await revert(point, device: key.device, reason: "ttl")
    }

    private func revert(_ point: AllowedPoint, device: String, reason: String) async {
        guard let value = point.revert else { return }
        let outcome = await write(
            [ControlWrite(point: point, value: value)], device: device, rateLimited: false,
            context: AuditContext(id: nil, client: .gateway(reason), op: "revert", ttl: nil))[0]
        report(
            ControlRecord(
                timestamp: Timestamp.format(clocks.wall()), id: nil, client: .gateway(reason), op: "revert", device: device,
                point: point.path.description, value: value, outcome: outcome))
        if outcome.result != .applied {
            logger.warning(
                "revert not applied", metadata: ["device": "\(device)", "point": "\(point.path)", "result": "\(outcome.result.rawValue)"])
        }
    }

    /// Points with a ttl running now (tests, `/status`).
    public var liveTTLs: Int { state.withLock { $0.ttls.count } }

    /// At shutdown: every point with a live ttl is reverted (all devices at once, within `shutdownBound`);
    /// later ttls are not started.
    public func revertAll() async {
        let live = state.withLock { s -> [(Key, LiveTTL)] in
            s.stopping = true
            defer { s.ttls = [:] }
            return Array(s.ttls)
        }
        guard !live.isEmpty else { return }
        for (_, ttl) in live { ttl.task.cancel() }
        logger.info("reverting points with a live ttl", metadata: ["points": "\(live.count)"])
        let clocks = clocks
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withDiscardingTaskGroup { reverts in
                    for (key, ttl) in live { reverts.addTask { await self.revert(ttl.point, device: key.device, reason: "shutdown") } }
                }
            }
            group.addTask {
                do { try await clocks.sleep(for: Self.shutdownBound) } catch { return }
            }
            await group.next()
            group.cancelAll()
        }
    }

    // MARK: - Heartbeats

    /// Writes each controlled device's heartbeat point every second while it is online, until cancelled.
    /// A run of beats is recorded once: the first beat (at start, after the device was offline, after
    /// a beat that failed) has its intent line and its outcome line; the beats after it only a
    /// failure's line.
    func beatHearts() async {
        let beating = devices.values.compactMap { d -> (String, PointPath, PointDefinition)? in
            guard let c = d.control, let path = c.heartbeat, let definition = c.heartbeatDefinition else { return nil }
            return (d.name, path, definition)
        }
        guard !beating.isEmpty else { return }
        await withDiscardingTaskGroup { group in
            for (device, path, definition) in beating {
                group.addTask { await self.beat(device: device, path: path, definition: definition) }
            }
        }
    }

    private func beat(device: String, path: PointPath, definition: PointDefinition) async {
        var next = clocks.now()
        /// The run of beats going on is recorded (its first beat's intent line was written, and it was applied).
        var recorded = false
        while true {
            next += .seconds(1)
            do { try await clocks.sleepUntil(next) } catch { return }
            guard observer.isOnline(device), let inbox = inboxes[device] else {
                recorded = false
                continue
            }
            let value = nextHeartbeat(device: device, path: path, definition: definition)
            let number = SetpointValue.number(ExactDecimal(unsigned: value, exponent: 0))
            let note = IntentNote()
            let intent = recorded ? nil : heartbeatIntent(device: device, point: path.description, value: number, note: note)
            let outcome = await ControlJob.run(
                .heartbeat(path, definition, value: value), intent: intent, on: inbox, limit: Self.queueLimit)[0]
            // The count goes on from the value that went to the device: a beat not sent is not skipped.
            if outcome.write != nil { state.withLock { $0.heartbeats[device] = value } }
            let intended = note.attempted.load(ordering: .acquiring)
            if intended || (outcome.result != .applied && outcome.result != .offline) {
                report(
                    ControlRecord(
                        timestamp: Timestamp.format(clocks.wall()), id: nil, client: .gateway("heartbeat"), op: "heartbeat", device: device,
                        point: path.description, value: number, outcome: outcome))
            }
            recorded = outcome.result == .applied && (recorded || intended)
        }
    }

    /// The heartbeat's next value: one more than the last written (or than the device's own, at first),
    /// wrapping before the type's not-implemented value.
    private func nextHeartbeat(device: String, path: PointPath, definition: PointDefinition) -> UInt64 {
        let top: UInt64 = definition.size >= 2 ? 0xFFFF_FFFE : 0xFFFE
        return state.withLock { s in
            var last = s.heartbeats[device]
            if last == nil, let registers = observer.registers(device),
                case .success(let found) = ControlMap(registers, catalog: catalog(of: device)).find(path),
                case .number(let n)? = found.value, !n.negative, n.exponent == 0
            {
                last = n.magnitude
            }
            s.heartbeats[device] = last
            return last.map { $0 >= top ? 0 : $0 + 1 } ?? 0
        }
    }

    // MARK: - Capabilities

    /// The device's model catalog (the built-in one for a device not controlled).
    private func catalog(of device: String) -> ModelCatalog { catalogs[device] ?? .builtin }

    private func capabilities(device: DeviceConfig, control: DeviceControl) -> [ControlCapability] {
        let registers = observer.registers(device.name)
        let map = registers.map { ControlMap($0, catalog: catalog(of: device.name)) }
        return control.allow.map { point in
            var last: SetpointValue?
            var scaleFactor: Int?
            if let map, case .success(let found) = map.find(point.path) {
                last = found.value
                scaleFactor = found.scaleFactor
            }
            return ControlCapability(point: point, last: last, scaleFactor: scaleFactor)
        }
    }
}

/// A sink of the runners' events that keeps what the controller needs of the controlled devices:
/// their latest registers and whether they are online.
public final class ControlObserver: GatewaySink {
    private struct State {
        var registers: [String: DeviceRegisters] = [:]
        var online: Set<String> = []
    }

    private let controlled: Set<String>
    private let state = Mutex(State())

    /// An observer of the devices that take control.
    public init(devices: [DeviceConfig]) {
        controlled = Set(devices.filter { $0.control != nil }.map(\.name))
    }

    public func receive(_ event: GatewayEvent) {
        switch event {
        case .registers(let device, let registers):
            guard controlled.contains(device) else { return }
            state.withLock { $0.registers[device] = registers }
        case .status(let status):
            guard controlled.contains(status.device) else { return }
            state.withLock { s in
                if status.state == .online { s.online.insert(status.device) } else { s.online.remove(status.device) }
            }
        case .discovered, .readings, .control:
            break
        }
    }

    /// The device's registers as last read.
    func registers(_ device: String) -> DeviceRegisters? { state.withLock { $0.registers[device] } }

    /// Whether the device is online now.
    func isOnline(_ device: String) -> Bool { state.withLock { $0.online.contains(device) } }
}
