/// What a command payload (NCMD, DCMD) asks: its metrics' names, data types, values and properties,
/// read with `ProtobufReader` (the scalar values; anything else is left out).
public struct SparkplugCommand: Sendable, Equatable {
    /// One metric of the command.
    public struct Metric: Sendable, Equatable {
        /// Its name (or nil when the command uses an alias only).
        public var name: String?
        /// Its alias, if given.
        public var alias: UInt64?
        /// Its `datatype` (field 4) as sent, if given: the schema's `DataType` number, which may be
        /// one the gateway does not publish.
        public var datatype: UInt32?
        /// Whether it says `is_null`.
        public var isNull: Bool
        /// Its value, when a scalar.
        public var value: SparkplugValue?
        /// Its properties (`PropertySet`, field 9) with a scalar value, by key; a property with no
        /// value, or one that is not a scalar, is left out.
        public var properties: [String: SparkplugValue]

        /// A metric with nothing set yet.
        public init(
            name: String? = nil, alias: UInt64? = nil, datatype: UInt32? = nil, isNull: Bool = false, value: SparkplugValue? = nil,
            properties: [String: SparkplugValue] = [:]
        ) {
            self.name = name
            self.alias = alias
            self.datatype = datatype
            self.isNull = isNull
            self.value = value
            self.properties = properties
        }
    }

    /// The metrics, in order.
    public var metrics: [Metric]

    /// Reads a payload; nil when it is not a well-formed Sparkplug B payload.
    public init?(payload: [UInt8]) {
        guard let fields = ProtobufReader.fields(of: payload[...]) else { return nil }
        var metrics: [Metric] = []
        for case .bytes(2, let body) in fields {
            guard let metric = Self.metric(body) else { return nil }
            metrics.append(metric)
        }
        self.metrics = metrics
    }

    /// Whether it asks for `Node Control/Rebirth` (set to true).
    public var asksRebirth: Bool {
        metrics.contains { $0.name == "Node Control/Rebirth" && $0.value == .boolean(true) }
    }

    /// `Payload.Metric`: name 1, alias 2, datatype 4, is_null 7, properties 9, values 10-15.
    private static func metric(_ body: ArraySlice<UInt8>) -> Metric? {
        guard let inner = ProtobufReader.fields(of: body) else { return nil }
        var metric = Metric()
        for field in inner {
            switch field {
            case .bytes(1, let text): metric.name = String(decoding: text, as: UTF8.self)
            case .varint(2, let v): metric.alias = v
            case .varint(4, let v): metric.datatype = UInt32(truncatingIfNeeded: v)
            case .varint(7, let v): metric.isNull = v != 0
            case .bytes(9, let set):
                guard let properties = propertySet(set) else { return nil }
                metric.properties = properties
            default:
                if let value = scalar(field, firstNumber: 10) { metric.value = value }
            }
        }
        return metric
    }

    /// `PropertySet`: keys 1 (repeated), values 2 (repeated `PropertyValue`), paired in order.
    private static func propertySet(_ body: ArraySlice<UInt8>) -> [String: SparkplugValue]? {
        guard let fields = ProtobufReader.fields(of: body) else { return nil }
        var keys: [String] = []
        var values: [SparkplugValue?] = []
        for field in fields {
            switch field {
            case .bytes(1, let text): keys.append(String(decoding: text, as: UTF8.self))
            case .bytes(2, let property):
                // PropertyValue: type 1, is_null 2, values 3-8 (int, long, float, double, boolean, string).
                guard let inner = ProtobufReader.fields(of: property) else { return nil }
                values.append(inner.lazy.compactMap { scalar($0, firstNumber: 3) }.last)
            default: break
            }
        }
        guard keys.count == values.count else { return nil }
        var out: [String: SparkplugValue] = [:]
        for (key, value) in zip(keys, values) { out[key] = value }
        return out
    }

    /// A scalar value field, numbered from `firstNumber` (int, long, float, double, boolean, string).
    private static func scalar(_ field: ProtobufReader.Field, firstNumber n: Int) -> SparkplugValue? {
        switch field {
        case .varint(n, let v): .int(UInt32(truncatingIfNeeded: v))
        case .varint(n + 1, let v): .long(v)
        case .fixed32(n + 2, let v): .float(Float(bitPattern: v))
        case .fixed64(n + 3, let v): .double(Double(bitPattern: v))
        case .varint(n + 4, let v): .boolean(v != 0)
        case .bytes(n + 5, let text): .string(String(decoding: text, as: UTF8.self))
        default: nil
        }
    }
}
