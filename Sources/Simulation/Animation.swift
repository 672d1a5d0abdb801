import Foundation  // sin
import SunSpec

/// Moves a simulated device's measured values plausibly over time: each implemented, non-static
/// integer point with measurement units swings a few percent around its captured value. Configuration
/// points (access RW), counts, enums, bitfields and scale factors stay as captured.
///
/// What a newcomer sees first stays physical: every point of one unit (all voltages, all currents,
/// all temperatures, ...) moves by the same factor, so the captured relations between them hold at
/// every step (a minimum stays below its maximum, each cell's voltage between its module's lowest
/// and highest, a module's extremes within the battery's); and a percentage stays within its range
/// (state of charge and of health 0...100, a power factor in percent within -100...100, one in `PF`
/// within -1...1).
public struct Animation: Sendable {
    struct Target: Sendable {
        let address: Int
        let type: PointType
        let raw: Int64
        /// The wave this point follows: its units'.
        let wave: Wave
        /// The raw values the point's units allow at its scale factor.
        let bounds: ClosedRange<Int64>?
    }

    /// A sine of its own period and phase, shared by every point of one unit.
    struct Wave: Sendable {
        let period: Double
        let phase: Double

        init(units: String) {
            var hash: UInt32 = 2_166_136_261  // FNV-1a: the same waves in every run
            for byte in units.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
            let seed = Double(hash % 1000) / 1000
            period = 20 + 40 * seed
            phase = seed * 6.283
        }

        /// The factor the captured values are multiplied by at `seconds`.
        func factor(at seconds: Double) -> Double {
            1 + 0.03 * sin(2 * Double.pi * seconds / period + phase)
        }
    }

    let targets: [Target]
    static let measuredUnits: Set<String> = [
        "W", "VA", "var", "VAr", "A", "V", "Hz", "C", "%", "%WHRtg", "Pct", "WH", "Wh", "Ah", "AH", "PF",
    ]

    /// The range of the values of a point in these units (engineering values), where it has one.
    static func physicalRange(units: String) -> ClosedRange<Double>? {
        switch units {
        case "%", "%WHRtg": 0...100
        case "Pct": -100...100
        case "PF": -1...1
        default: nil
        }
    }

    /// The points of `image`'s SunSpec map that move; none when it has no SunSpec map (a vendor device
    /// read through a profile).
    public init(image: RegisterImage, catalog: ModelCatalog = .builtin) {
        var targets: [Target] = []
        let device: DecodedDevice
        do {
            device = try DeviceDecoder.decode(image, catalog: catalog)
        } catch {
            self.targets = []
            return
        }
        for instance in device.models {
            guard let definition = instance.model.definition, let values = instance.model.values else { continue }
            var offset = 0
            Self.collect(definition.group, values, instance.model, at: instance.address, offset: &offset, into: &targets)
        }
        self.targets = targets
    }

    private static func collect(
        _ group: GroupDefinition, _ values: GroupValues, _ model: DecodedModel, at base: Int, offset: inout Int,
        into targets: inout [Target]
    ) {
        let start = offset
        for (i, point) in group.points.enumerated() {
            guard point.access == .read, !point.isStatic, let units = point.units, measuredUnits.contains(units),
                [.int16, .uint16, .int32, .uint32].contains(point.type)
            else { continue }
            let raw: Int64
            var exponent = 0
            switch model.value(values, i) {
            case .int(let v): raw = v
            case .uint(let v): raw = Int64(v)
            case .decimal(let d):
                raw = (d.negative ? -1 : 1) * Int64(d.magnitude)
                exponent = d.exponent
            default: continue
            }
            guard raw != 0 else { continue }
            let bounds = physicalRange(units: units).map { range in
                let unit = power(10, exponent)
                return Int64((range.lowerBound / unit).rounded(.up))...Int64((range.upperBound / unit).rounded(.down))
            }
            let address = base + start + group.pointOffsets[i]
            targets.append(Target(address: address, type: point.type, raw: raw, wave: Wave(units: units), bounds: bounds))
        }
        offset = start + group.pointsLength
        for (g, sub) in group.groups.enumerated() {
            for instance in values.groups[g] {
                collect(sub, instance, model, at: base, offset: &offset, into: &targets)
            }
        }
    }

    private static func power(_ base: Double, _ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<abs(exponent) { result *= base }
        return exponent < 0 ? 1 / result : result
    }

    /// Number of points that move.
    public var count: Int { targets.count }

    /// Writes the values at `seconds` since the start into `image`.
    public func apply(at seconds: Double, to image: inout RegisterImage) {
        for t in targets {
            var v = Int64((Double(t.raw) * t.wave.factor(at: seconds)).rounded())
            if let bounds = t.bounds { v = min(max(v, bounds.lowerBound), bounds.upperBound) }
            let registers: [UInt16]
            switch t.type {
            case .int16:
                v = max(-32767, min(32767, v))
                registers = [UInt16(truncatingIfNeeded: v)]
            case .uint16:
                v = max(0, min(65534, v))
                registers = [UInt16(v)]
            case .int32:
                v = max(-2_147_483_647, min(2_147_483_647, v))
                let u = UInt32(truncatingIfNeeded: v)
                registers = [UInt16(u >> 16), UInt16(u & 0xFFFF)]
            default:
                v = max(0, min(4_294_967_294, v))
                registers = [UInt16(v >> 16), UInt16(v & 0xFFFF)]
            }
            image.insert(.init(start: t.address, registers: registers))
        }
    }
}
