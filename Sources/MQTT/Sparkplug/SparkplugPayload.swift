/// A Sparkplug B payload (`org.eclipse.tahu.protobuf.Payload`, Sparkplug 3.0 chapter 6): a timestamp,
/// metrics and a sequence number, with what the gateway uses of each metric.
public struct SparkplugPayload: Sendable, Equatable {
    /// Milliseconds since 1970 (UTC).
    public var timestamp: UInt64?
    /// The metrics.
    public var metrics: [SparkplugMetric]
    /// 0...255, on every message after NBIRTH (none on NDEATH).
    public var seq: UInt64?

    /// Creates a payload.
    public init(timestamp: UInt64?, metrics: [SparkplugMetric] = [], seq: UInt64? = nil) {
        self.timestamp = timestamp
        self.metrics = metrics
        self.seq = seq
    }

    /// The payload's protobuf bytes. Field numbers: Payload timestamp 1, metrics 2, seq 3.
    public func encoded() -> [UInt8] {
        var out = ProtobufWriter()
        if let timestamp { out.uint(1, timestamp) }
        for metric in metrics { out.message(2) { metric.write(to: &$0) } }
        if let seq { out.uint(3, seq) }
        return out.bytes
    }
}

/// The Sparkplug B data types the gateway publishes (`DataType` of the schema).
public enum SparkplugDataType: UInt32, Sendable {
    case int8 = 1, int16 = 2, int32 = 3, int64 = 4
    case uint8 = 5, uint16 = 6, uint32 = 7, uint64 = 8
    case float = 9, double = 10, boolean = 11, string = 12
}

/// A metric value, in the field the schema gives its data type.
public enum SparkplugValue: Sendable, Equatable, Hashable {
    /// `int_value` (field 10): Int8, Int16, Int32 (two's complement in 32 bits), UInt8, UInt16.
    case int(UInt32)
    /// `long_value` (11): Int64 (two's complement), UInt32, UInt64.
    case long(UInt64)
    /// `float_value` (12).
    case float(Float)
    /// `double_value` (13).
    case double(Double)
    /// `boolean_value` (14).
    case boolean(Bool)
    /// `string_value` (15).
    case string(String)
}

/// One metric: name, optional alias, timestamp, data type, value (or null), and a `units` property.
public struct SparkplugMetric: Sendable, Equatable {
    /// The metric's name (`802/0/SoC`).
    public var name: String
    /// Its alias, if any.
    public var alias: UInt64?
    /// When the value was read, in ms since 1970.
    public var timestamp: UInt64?
    /// Its data type.
    public var datatype: SparkplugDataType
    /// Whether the value was kept while the broker was away (`is_historical`).
    public var isHistorical: Bool
    /// The value; nil is published as `is_null`.
    public var value: SparkplugValue?
    /// The `units` property (a String PropertyValue), if any.
    public var units: String?

    /// Creates a metric.
    public init(
        name: String, alias: UInt64? = nil, timestamp: UInt64? = nil, datatype: SparkplugDataType, isHistorical: Bool = false,
        value: SparkplugValue?, units: String? = nil
    ) {
        self.name = name
        self.alias = alias
        self.timestamp = timestamp
        self.datatype = datatype
        self.isHistorical = isHistorical
        self.value = value
        self.units = units
    }

    /// Field numbers of `Payload.Metric`: name 1, alias 2, timestamp 3, datatype 4, is_historical 5,
    /// is_null 7, properties 9, values 10-15. PropertySet: keys 1, values 2; PropertyValue: type 1,
    /// string_value 8.
    func write(to out: inout ProtobufWriter) {
        out.string(1, name)
        if let alias { out.uint(2, alias) }
        if let timestamp { out.uint(3, timestamp) }
        out.uint(4, UInt64(datatype.rawValue))
        if isHistorical { out.bool(5, true) }
        if value == nil { out.bool(7, true) }
        if let units {
            out.message(9) { set in
                set.string(1, "units")
                set.message(2) { property in
                    property.uint(1, UInt64(SparkplugDataType.string.rawValue))
                    property.string(8, units)
                }
            }
        }
        switch value {
        case .int(let v): out.uint(10, UInt64(v))
        case .long(let v): out.uint(11, v)
        case .float(let v): out.float(12, v)
        case .double(let v): out.double(13, v)
        case .boolean(let v): out.bool(14, v)
        case .string(let v): out.string(15, v)
        case nil: break
        }
    }
}
