import SunSpec

/// One allowed point as `capabilities` describes it: its limits, units, revert value and the value
/// the latest poll read.
public struct ControlCapability: Sendable, Equatable {
    /// The point and its limits.
    public let path: PointPath
    let type: String
    let units: String?
    let min: ExactDecimal?
    let max: ExactDecimal?
    let values: [String]?
    let revert: SetpointValue?
    let minInterval: Duration?
    /// The value the latest poll read (nil: none yet).
    public let last: SetpointValue?
    /// The device's scale factor of the point in that poll.
    public let scaleFactor: Int?

    init(point: AllowedPoint, last: SetpointValue?, scaleFactor: Int?) {
        path = point.path
        type = point.definition.type.rawValue
        units = point.definition.units
        min = point.min
        max = point.max
        values = point.values
        revert = point.revert
        minInterval = point.minInterval
        self.last = last
        self.scaleFactor = scaleFactor
    }

    /// `{"point":..,"type":..,"units":..,"min":..,"max":..,"values":[..],"revert":..,"min_interval":..,"sf":..,"last":..}`
    func append(to out: inout JSONBuffer) {
        out.raw("{\"point\":")
        out.string(path.description)
        out.raw(",\"type\":")
        out.string(type)
        out.raw(",\"units\":")
        ControlRecord.optional(units, &out)
        out.raw(",\"min\":")
        ControlRecord.value(min.map(SetpointValue.number), &out)
        out.raw(",\"max\":")
        ControlRecord.value(max.map(SetpointValue.number), &out)
        out.raw(",\"values\":")
        if let values {
            out.byte(UInt8(ascii: "["))
            for (i, v) in values.enumerated() {
                if i > 0 { out.byte(UInt8(ascii: ",")) }
                out.string(v)
            }
            out.byte(UInt8(ascii: "]"))
        } else {
            out.raw("null")
        }
        out.raw(",\"revert\":")
        ControlRecord.value(revert, &out)
        out.raw(",\"min_interval\":")
        ControlRecord.optional(minInterval.map(DurationText.format), &out)
        out.raw(",\"sf\":")
        if let scaleFactor { out.int(Int64(scaleFactor)) } else { out.raw("null") }
        out.raw(",\"last\":")
        ControlRecord.value(last, &out)
        out.byte(UInt8(ascii: "}"))
    }
}
