import SunSpec

/// What a control client asks for.
public enum ControlOp: String, Sendable, CaseIterable {
    /// Write a value (engineering units), optionally with a time to live.
    case set
    /// Write the point's `revert` value now.
    case release
    /// Read the point from the device now.
    case get
    /// The allowed points of a device, with their limits and last values.
    case capabilities
}

/// One request of the control socket: `{"id":"c1","op":"set","device":"bess-1","point":"124.WChaMax","value":25000,"ttl":"30s"}`.
public struct ControlRequest: Sendable, Equatable {
    /// Echoed in the answer (any JSON string; nil when not given).
    public var id: String?
    /// What is asked.
    public var op: ControlOp
    /// The device's name.
    public var device: String
    /// The point, as `MODEL.POINT`, `MODEL[i].POINT` or `MODEL.GROUP[j].POINT` (nil for `capabilities`).
    public var point: String?
    /// The value of a `set`: a number (kept exact) or an enum symbol.
    public var value: SetpointValue?
    /// How long a `set` holds before the point's `revert` value is written.
    public var ttl: Duration?

    /// Creates a request.
    public init(id: String? = nil, op: ControlOp, device: String, point: String? = nil, value: SetpointValue? = nil, ttl: Duration? = nil) {
        self.id = id
        self.op = op
        self.device = device
        self.point = point
        self.value = value
        self.ttl = ttl
    }

    /// Why a line is not a request: the `error` of a `bad_request` answer, with the `id` when one was read.
    public struct Malformed: Error, Equatable {
        /// The request's id, if it could be read.
        public var id: String?
        /// What is wrong, one line.
        public var error: String
    }

    /// The longest line a request may be.
    public static let maxLineBytes = 64 << 10

    /// Parses one NDJSON line (without its newline).
    public static func parse(_ line: ArraySlice<UInt8>) throws(Malformed) -> ControlRequest {
        var id: String?
        var op: String?
        var device: String?
        var point: String?
        var value: SetpointValue?
        var ttlText: String?
        var valueError: String?
        do {
            try JSONScanner.scan(line) { (s: inout JSONScanner) throws(JSONScanner.Failure) in
                try s.object { (s: inout JSONScanner, key: String) throws(JSONScanner.Failure) in
                    switch key {
                    case "id": id = try s.string("id")
                    case "op": op = try s.string("op")
                    case "device": device = try s.string("device")
                    case "point": point = try s.string("point")
                    case "ttl": ttlText = try s.string("ttl")
                    case "value":
                        s.skipSpace()
                        if s.peek == UInt8(ascii: "\"") {
                            value = .symbol(try s.string("value"))
                        } else {
                            let start = s.position
                            try s.skipNumber()
                            let text = String(decoding: UnsafeBufferPointer(rebasing: s.bytes[start..<s.position]), as: UTF8.self)
                            if let number = ExactDecimal(parsing: text) {
                                value = .number(number)
                            } else {
                                valueError = "value \(text) is not a number the gateway can hold exactly"
                            }
                        }
                    default:
                        throw s.fail("unknown field \"\(key)\"")
                    }
                }
                s.skipSpace()
                guard s.peek == nil else { throw s.fail("text after the request") }
            }
        } catch {
            throw Malformed(id: id, error: "not a request: \(error.message) at byte \(error.offset)")
        }
        func malformed(_ error: String) -> Malformed { Malformed(id: id, error: error) }
        if let valueError { throw malformed(valueError) }
        guard let opText = op else { throw malformed("missing field \"op\"") }
        guard let kind = ControlOp(rawValue: opText) else {
            throw malformed("unknown op \"\(opText)\" (set, release, get, capabilities)")
        }
        guard let device else { throw malformed("missing field \"device\"") }
        if kind != .capabilities, point == nil { throw malformed("missing field \"point\"") }
        if kind == .set, value == nil { throw malformed("missing field \"value\"") }
        if kind != .set, value != nil { throw malformed("\"value\" is for set only") }
        var ttl: Duration?
        if let ttlText {
            guard kind == .set else { throw malformed("\"ttl\" is for set only") }
            guard let parsed = DurationText.parse(ttlText), parsed > .zero else {
                throw malformed("ttl \"\(ttlText)\" is not a duration (30s, 500ms, 5m)")
            }
            ttl = parsed
        }
        return ControlRequest(id: id, op: kind, device: device, point: point, value: value, ttl: ttl)
    }
}
