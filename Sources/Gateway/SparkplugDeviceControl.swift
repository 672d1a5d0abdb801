import Captures
import Logging
import MQTT
import SunSpec
import Synchronization

/// DCMD through the control pipeline: each metric of a DCMD is one `set` of the point its name
/// names (`124/0/WChaMax` is `124.WChaMax`), with the metric's value and its `ttl` property, checked,
/// written, read back and audited by the `Controller` as the control socket's requests are, from the
/// client `{"mqtt": topic}`. Each DCMD is a task of its own (the MQTT client's thread never waits),
/// which starts when the one before it is done: the DCMDs are carried out in the order they arrived,
/// and the metrics of each in order. Each outcome is one log line. The new value reaches Sparkplug
/// hosts in the DDATA of the next poll.
final class SparkplugDeviceControl: Sendable {
    /// Most DCMDs taken and not yet done; past them a DCMD is refused (logged).
    static let pendingLimit = 64

    /// What one metric comes to before the controller: a request, or why it cannot be one.
    enum Step: Sendable, Equatable {
        case request(ControlRequest)
        case refused(id: String, point: String, value: SetpointValue?, error: String)
    }

    private struct State {
        var controller: Controller?
        /// DCMDs taken since the start (their ids count them).
        var taken = 0
        /// DCMDs taken and not yet done.
        var pending = 0
        /// The last DCMD's task: the next one waits for it.
        var last: Task<Void, Never>?
    }

    private let state = Mutex(State())
    private let logger: Logger

    /// Takes DCMDs once `attach` has given it the controller.
    init(logger: Logger) {
        self.logger = logger
    }

    /// The controller, once it exists (it is made after the MQTT sink).
    func attach(_ controller: Controller) {
        state.withLock { $0.controller = controller }
    }

    /// Takes a DCMD of `device` on `topic`: refused whole (logged, nothing written) when a metric has
    /// no name or no value, before the controller is attached, or past `pendingLimit`; otherwise its
    /// sets start after those of the DCMDs before it.
    func take(topic: String, device: String, command: SparkplugCommand) {
        guard !command.metrics.isEmpty else {
            logger.warning("mqtt: DCMD for \(device) refused: no metrics")
            return
        }
        for (k, metric) in command.metrics.enumerated() {
            guard metric.name != nil else {
                logger.warning("mqtt: DCMD for \(device) refused: metric \(k + 1) has no name (the gateway publishes no aliases)")
                return
            }
            guard metric.value != nil, !metric.isNull else {
                logger.warning("mqtt: DCMD for \(device) refused: metric \(k + 1) (\(metric.name ?? "")) has no value")
                return
            }
        }
        let client = ControlClient.mqtt(topic)
        let logger = logger
        let refusal = state.withLock { s -> String? in
            guard let controller = s.controller else { return "the control pipeline is not started yet" }
            guard s.pending < Self.pendingLimit else { return "\(Self.pendingLimit) DCMDs are waiting already" }
            s.taken += 1
            s.pending += 1
            let steps = Self.steps(command, device: device, id: "dcmd-\(s.taken)")
            let previous = s.last
            s.last = Task {
                await previous?.value
                await Self.carryOut(steps, device: device, client: client, controller: controller, logger: logger)
                self.state.withLock { $0.pending -= 1 }
            }
            return nil
        }
        if let refusal { logger.warning("mqtt: DCMD for \(device) refused: \(refusal)") }
    }

    /// The steps of one DCMD, in order: each request handled by the controller, each refusal audited.
    private static func carryOut(_ steps: [Step], device: String, client: ControlClient, controller: Controller, logger: Logger) async {
        for step in steps {
            let record: ControlRecord
            switch step {
            case .request(let request):
                record = await controller.handle(request, client: client)
            case .refused(let id, let point, let value, let error):
                record = ControlRecord(
                    timestamp: Timestamp.format(controller.clocks.wall()), id: id, client: client, op: ControlOp.set.rawValue,
                    device: device, point: point, value: value, outcome: ControlOutcome(.badRequest, error: error))
                controller.report(record)
            }
            log(record, logger: logger)
        }
    }

    /// The requests of a DCMD's metrics (each with a name and a value), ids `{id}.{k}` from 1.
    static func steps(_ command: SparkplugCommand, device: String, id: String) -> [Step] {
        command.metrics.enumerated().map { k, metric in
            let stepID = "\(id).\(k + 1)"
            let name = metric.name ?? ""
            let path: PointPath
            do { path = try SparkplugPointName.path(name) } catch {
                return .refused(id: stepID, point: name, value: nil, error: "\(error)")
            }
            guard let raw = metric.value else { return .refused(id: stepID, point: path.description, value: nil, error: "no value") }
            let value: SetpointValue
            do { value = try SparkplugSetpoint.value(raw, datatype: metric.datatype) } catch {
                return .refused(id: stepID, point: path.description, value: nil, error: "\(name): \(error)")
            }
            let ttl: Duration?
            do { ttl = try SparkplugSetpoint.ttl(metric.properties) } catch {
                return .refused(id: stepID, point: path.description, value: value, error: "\(name): \(error)")
            }
            return .request(ControlRequest(id: stepID, op: .set, device: device, point: path.description, value: value, ttl: ttl))
        }
    }

    /// One line per outcome: info when applied, a warning otherwise.
    private static func log(_ record: ControlRecord, logger: Logger) {
        let what = "mqtt: DCMD \(record.id ?? "-") \(record.device ?? "-") \(record.point ?? "-") = \(record.value?.description ?? "-")"
        let result = record.outcome.result
        if result == .applied {
            logger.info("\(what): applied")
        } else {
            logger.warning("\(what): \(result.rawValue)\(record.outcome.error.map { " (\($0))" } ?? "")")
        }
    }
}
