import Foundation
import MQTT
import SunSpec

/// SunSpec readings as Sparkplug B metrics: one per point of every model instance, named
/// `{model}/{index}/{point}` (points of groups `{model}/{index}/{group}[{j}]/{point}` for a repeating
/// group, `{model}/{index}/{group}/{point}` for a single one), with the data type of the SunSpec type
/// (Double for a scaled point), the value (null as `is_null`) and the units.
enum SparkplugMetrics {
    /// Every published point of a reading (none for a model with no definition).
    static func metrics(of reading: Reading) -> [SparkplugMetric] {
        var out: [SparkplugMetric] = []
        let timestamp = reading.timestamp.map(milliseconds)
        walk(reading, named: true) { point, type, value, name in
            out.append(SparkplugMetric(name: name ?? point.name, timestamp: timestamp, datatype: type, value: value, units: point.units))
        }
        return out
    }

    /// The values of `metrics(of:)`, in its order, without making a name: what each poll compares.
    static func values(of reading: Reading) -> [SparkplugValue?] {
        var out: [SparkplugValue?] = []
        walk(reading, named: false) { _, _, value, _ in out.append(value) }
        return out
    }

    /// Milliseconds since 1970.
    static func milliseconds(_ date: Date) -> UInt64 { UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded())) }

    /// Calls `visit` for every published point of a reading, in order, with its data type, value and
    /// (when `named`) its metric name.
    private static func walk(
        _ reading: Reading, named: Bool, _ visit: (PointDefinition, SparkplugDataType, SparkplugValue?, String?) -> Void
    ) {
        let model = reading.instance.model
        guard let definition = model.definition, let values = model.values else { return }
        let path = named ? "\(model.id)/\(reading.instance.index)/" : nil
        walk(definition.group, values, model, path: path, topLevel: true, visit)
    }

    private static func walk(
        _ group: GroupDefinition, _ values: GroupValues, _ model: DecodedModel, path: String?, topLevel: Bool,
        _ visit: (PointDefinition, SparkplugDataType, SparkplugValue?, String?) -> Void
    ) {
        for (i, point) in group.points.enumerated() where point.isPublished {
            if topLevel && i < 2 && (point.name == "ID" || point.name == "L") { continue }
            let type = datatype(point)
            visit(point, type, value(model.value(values, i), as: type), path.map { $0 + point.name })
        }
        for (g, sub) in group.groups.enumerated() {
            let instances = values.groups[g]
            if sub.isRepeating {
                for (j, instance) in instances.enumerated() {
                    walk(sub, instance, model, path: path.map { $0 + "\(sub.name)[\(j)]/" }, topLevel: false, visit)
                }
            } else if let only = instances.first {
                walk(sub, only, model, path: path.map { $0 + "\(sub.name)/" }, topLevel: false, visit)
            }
        }
    }

    /// The Sparkplug data type of a point: its SunSpec type's, or Double when a scale factor (or an
    /// exponent adjustment) applies.
    static func datatype(_ point: PointDefinition) -> SparkplugDataType {
        if point.scaleFactor != nil || point.exponentAdjust != 0 { return .double }
        switch point.type {
        case .int16, .sunssf: return .int16
        case .uint16, .count, .acc16, .enum16, .bitfield16, .pad: return .uint16
        case .int32: return .int32
        case .uint32, .acc32, .enum32, .bitfield32: return .uint32
        case .int64: return .int64
        case .uint64, .acc64, .bitfield64: return .uint64
        case .float32: return .float
        case .float64: return .double
        case .string, .ipaddr, .ipv6addr, .eui48: return .string
        }
    }

    /// A point value in the field of `type` (nil: null, or a value that does not fit the type).
    static func value(_ v: PointValue, as type: SparkplugDataType) -> SparkplugValue? {
        switch (type, v) {
        case (_, .null): return nil
        case (.double, _): return v.doubleValue.map { .double($0) }
        case (.float, .float32(let f)): return .float(f)
        case (.string, .string(let s)): return .string(s)
        case (.int8, .int(let i)), (.int16, .int(let i)), (.int32, .int(let i)): return .int(UInt32(truncatingIfNeeded: i))
        case (.int64, .int(let i)): return .long(UInt64(bitPattern: i))
        case (.uint8, .uint(let u)), (.uint16, .uint(let u)): return .int(UInt32(truncatingIfNeeded: u))
        case (.uint32, .uint(let u)), (.uint64, .uint(let u)): return .long(u)
        default: return nil
        }
    }
}
