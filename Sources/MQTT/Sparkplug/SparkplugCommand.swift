/// What a command payload (NCMD, DCMD) asks: its metrics' names and values, read with
/// `ProtobufReader` (names and the scalar values; anything else is left out).
public struct SparkplugCommand: Sendable, Equatable {
    /// One metric of the command.
    public struct Metric: Sendable, Equatable {
        /// Its name (or nil when the command uses an alias only).
        public var name: String?
        /// Its alias, if given.
        public var alias: UInt64?
        /// Its value, when a scalar.
        public var value: SparkplugValue?

        /// A metric with nothing set yet.
        public init(name: String? = nil, alias: UInt64? = nil, value: SparkplugValue? = nil) {
            self.name = name
            self.alias = alias
            self.value = value
        }
    }

    /// The metrics, in order.
    public var metrics: [Metric]

    /// Reads a payload; nil when it is not a well-formed Sparkplug B payload.
    public init?(payload: [UInt8]) {
        guard let fields = ProtobufReader.fields(of: payload[...]) else { return nil }
        var metrics: [Metric] = []
        for case .bytes(2, let body) in fields {
            guard let inner = ProtobufReader.fields(of: body) else { return nil }
            var metric = Metric()
            for field in inner {
                switch field {
                case .bytes(1, let text): metric.name = String(decoding: text, as: UTF8.self)
                case .varint(2, let v): metric.alias = v
                case .varint(10, let v): metric.value = .int(UInt32(truncatingIfNeeded: v))
                case .varint(11, let v): metric.value = .long(v)
                case .fixed32(12, let v): metric.value = .float(Float(bitPattern: v))
                case .fixed64(13, let v): metric.value = .double(Double(bitPattern: v))
                case .varint(14, let v): metric.value = .boolean(v != 0)
                case .bytes(15, let text): metric.value = .string(String(decoding: text, as: UTF8.self))
                default: break
                }
            }
            metrics.append(metric)
        }
        self.metrics = metrics
    }

    /// Whether it asks for `Node Control/Rebirth` (set to true).
    public var asksRebirth: Bool {
        metrics.contains { $0.name == "Node Control/Rebirth" && $0.value == .boolean(true) }
    }
}
