import Captures
import SunSpec
import Synchronization

/// Who asked for a write, and how: the fields its intent lines share with its outcome line.
struct AuditContext: Sendable {
    /// The request's `id`.
    let id: String?
    /// Who asked.
    let client: ControlClient
    /// `set`, `release`, `revert` or `heartbeat`.
    let op: String
    /// The ttl asked for.
    let ttl: Duration?
}

extension Controller {
    /// The intent of writing `writes` to `device`: one line per point appended to the audit, in the
    /// runner's turn, immediately before the write goes out.
    func intent(of writes: [ControlWrite], device: String, context: AuditContext) -> ControlIntent {
        let points = writes.map { (point: $0.point.path.description, value: $0.value) }
        return { [self] planned in recordIntent(planned, points: points, device: device, context: context) }
    }

    /// The intent of a heartbeat's beat (the first of a run): its line appended like a write's;
    /// `note` tells afterwards whether it was tried.
    func heartbeatIntent(device: String, point: String, value: SetpointValue, note: IntentNote) -> ControlIntent {
        let context = AuditContext(id: nil, client: .gateway("heartbeat"), op: "heartbeat", ttl: nil)
        return { [self] planned in
            note.attempted.store(true, ordering: .releasing)
            return recordIntent(planned, points: [(point, value)], device: device, context: context)
        }
    }

    /// Appends the intent line of each planned write (`points` in the same order); false, logged,
    /// when one could not be written: the caller writes nothing then.
    func recordIntent(
        _ planned: [PlannedWrite], points: [(point: String, value: SetpointValue)], device: String, context: AuditContext
    ) -> Bool {
        guard planned.count == points.count else {
            logger.error(
                "write not sent: its plan does not match the request", metadata: ["device": "\(device)", "id": "\(context.id ?? "-")"])
            return false
        }
        for (p, point) in zip(planned, points) {
            let record = ControlRecord.intent(
                timestamp: Timestamp.format(clocks.wall()), id: context.id, client: context.client, op: context.op, device: device,
                point: point.point, value: point.value, ttl: context.ttl, planned: p)
            guard audit.append(record.auditLine()) else {
                logger.error(
                    "write not sent: its intent line could not be audited",
                    metadata: ["device": "\(device)", "point": "\(point.point)", "id": "\(context.id ?? "-")"])
                return false
            }
        }
        return true
    }
}

/// Whether a beat's intent line was tried (set in the runner's turn, read after the beat).
final class IntentNote: Sendable {
    let attempted = Atomic<Bool>(false)
}
