import SunSpec

/// One control request and what became of it: the socket's answer, the audit line and the stream's
/// `{"type":"control",...}` record are all rendered from it.
public struct ControlRecord: Sendable, Equatable {
    /// When it was answered (RFC 3339 UTC, milliseconds).
    public var timestamp: String
    /// The request's `id`.
    public var id: String?
    /// Who asked.
    public var client: ControlClient
    /// `set`, `release`, `get`, `capabilities`, or the gateway's own `revert` and `heartbeat`.
    public var op: String
    /// The device named.
    public var device: String?
    /// The point named, canonical when it was understood.
    public var point: String?
    /// The value asked for.
    public var value: SetpointValue?
    /// The ttl asked for.
    public var ttl: Duration?
    /// What it came to on the device.
    public var outcome: ControlOutcome
    /// The allowed points, for `capabilities`.
    public var capabilities: [ControlCapability]?
    /// An intent line: the write (`outcome.write`, `outcome.before`) is about to go to the device,
    /// its audit line says `"result":"pending"` (`outcome.result` is not used). Only in the audit.
    public var isIntent = false

    /// Creates a record.
    public init(
        timestamp: String, id: String?, client: ControlClient, op: String, device: String?, point: String?, value: SetpointValue? = nil,
        ttl: Duration? = nil, outcome: ControlOutcome
    ) {
        self.timestamp = timestamp
        self.id = id
        self.client = client
        self.op = op
        self.device = device
        self.point = point
        self.value = value
        self.ttl = ttl
        self.outcome = outcome
    }

    /// The intent line of a write about to go to a device: the request's fields, the registers
    /// planned and the value before, `"result":"pending"`.
    public static func intent(
        timestamp: String, id: String?, client: ControlClient, op: String, device: String, point: String, value: SetpointValue?,
        ttl: Duration?, planned: PlannedWrite
    ) -> ControlRecord {
        var record = ControlRecord(
            timestamp: timestamp, id: id, client: client, op: op, device: device, point: point, value: value, ttl: ttl,
            outcome: ControlOutcome(.ok, write: planned.write, before: planned.before))
        record.isIntent = true
        return record
    }

    /// The answer line: `{"type":"result","id":..,"device":..,"point":..,"result":..,"value":..,"readback":..,"write":{..},"ts":..}`.
    public func answerLine() -> [UInt8] {
        var out = JSONBuffer(capacity: 256)
        out.raw("{\"type\":\"result\",\"id\":")
        Self.optional(id, &out)
        out.raw(",\"device\":")
        Self.optional(device, &out)
        out.raw(",\"point\":")
        Self.optional(point, &out)
        out.raw(",\"result\":")
        out.string(outcome.result.rawValue)
        if let capabilities {
            out.raw(",\"points\":[")
            for (i, c) in capabilities.enumerated() {
                if i > 0 { out.byte(UInt8(ascii: ",")) }
                c.append(to: &out)
            }
            out.byte(UInt8(ascii: "]"))
        } else {
            appendDetails(&out)
        }
        out.raw(",\"ts\":")
        out.string(timestamp)
        out.raw("}\n")
        return out.bytes
    }

    /// The audit line, also the stream's record (an intent line only in the audit, `"result":"pending"`):
    /// `{"type":"control","ts":..,"id":..,"client":{..},"device":..,"point":..,"op":..,"value":..,"ttl":..,"result":..,"write":{..},"before":..,"readback":..}`.
    public func auditLine() -> [UInt8] {
        var out = JSONBuffer(capacity: 320)
        out.raw("{\"type\":\"control\",\"ts\":")
        out.string(timestamp)
        out.raw(",\"id\":")
        Self.optional(id, &out)
        out.raw(",\"client\":")
        switch client {
        case .socket(let uid, let pid):
            out.raw("{\"uid\":")
            out.uint(UInt64(uid))
            out.raw(",\"pid\":")
            out.int(Int64(pid))
            out.byte(UInt8(ascii: "}"))
        case .export(let peer):
            out.raw("{\"export\":")
            out.string(peer)
            out.byte(UInt8(ascii: "}"))
        case .mqtt(let topic):
            out.raw("{\"mqtt\":")
            out.string(topic)
            out.byte(UInt8(ascii: "}"))
        case .gateway(let reason):
            out.raw("{\"gateway\":")
            out.string(reason)
            out.byte(UInt8(ascii: "}"))
        }
        out.raw(",\"device\":")
        Self.optional(device, &out)
        out.raw(",\"point\":")
        Self.optional(point, &out)
        out.raw(",\"op\":")
        out.string(op)
        out.raw(",\"ttl\":")
        if let ttl { out.string(DurationText.format(ttl)) } else { out.raw("null") }
        out.raw(",\"result\":")
        out.string(isIntent ? Self.pending : outcome.result.rawValue)
        appendDetails(&out)
        out.raw(",\"before\":")
        Self.value(outcome.before, &out)
        out.raw("}\n")
        return out.bytes
    }

    /// `value`, `readback`, `write`, and `code` / `error` when there are some.
    private func appendDetails(_ out: inout JSONBuffer) {
        out.raw(",\"value\":")
        Self.value(value, &out)
        out.raw(",\"readback\":")
        Self.value(outcome.readback, &out)
        out.raw(",\"write\":")
        if let write = outcome.write {
            out.raw("{\"addr\":")
            out.int(Int64(write.address))
            out.raw(",\"registers\":[")
            for (i, r) in write.registers.enumerated() {
                if i > 0 { out.byte(UInt8(ascii: ",")) }
                out.uint(UInt64(r))
            }
            out.raw("],\"function\":")
            out.int(Int64(write.function.rawValue))
            out.byte(UInt8(ascii: "}"))
        } else {
            out.raw("null")
        }
        if let code = outcome.code {
            out.raw(",\"code\":")
            out.int(Int64(code))
        }
        if let error = outcome.error {
            out.raw(",\"error\":")
            out.string(error)
        }
    }

    /// The `result` of an intent line.
    public static let pending = "pending"

    static func value(_ value: SetpointValue?, _ out: inout JSONBuffer) {
        switch value {
        case .number(let d)?: out.decimal(d)
        case .symbol(let s)?: out.string(s)
        case nil: out.raw("null")
        }
    }

    static func optional(_ text: String?, _ out: inout JSONBuffer) {
        if let text { out.string(text) } else { out.raw("null") }
    }
}
