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
        let model = reading.instance.model
        guard let definition = model.definition, let values = model.values else { return [] }
        var out: [SparkplugMetric] = []
        let path = "\(model.id)/\(reading.instance.index)/"
        walk(definition.group, values, model, path: path, topLevel: true, timestamp: reading.timestamp.map(milliseconds), into: &out)
        return out
    }

    /// Milliseconds since 1970.
    static func milliseconds(_ date: Date) -> UInt64 { UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded())) }

    private static func walk(
        _ group: GroupDefinition, _ values: GroupValues, _ model: DecodedModel, path: String, topLevel: Bool, timestamp: UInt64?,
        into out: inout [SparkplugMetric]
    ) {
        for (i, point) in group.points.enumerated() where point.isPublished {
            if topLevel && i < 2 && (point.name == "ID" || point.name == "L") { continue }
            let type = datatype(point)
            out.append(
                SparkplugMetric(
                    name: path + point.name, timestamp: timestamp, datatype: type, value: value(model.value(values, i), as: type),
                    units: point.units))
        }
        for (g, sub) in group.groups.enumerated() {
            let instances = values.groups[g]
            if sub.isRepeating {
                for (j, instance) in instances.enumerated() {
                    walk(sub, instance, model, path: path + "\(sub.name)[\(j)]/", topLevel: false, timestamp: timestamp, into: &out)
                }
            } else if let only = instances.first {
                walk(sub, only, model, path: path + "\(sub.name)/", topLevel: false, timestamp: timestamp, into: &out)
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
