import SunSpec

/// Moves a simulated device's measured values plausibly over time: each implemented, non-static
/// integer point with measurement units swings a few percent around its captured value, each with
/// its own period and phase. Configuration points (access RW), counts, enums, bitfields and scale
/// factors stay as captured.
public struct Animation: Sendable {
    struct Target: Sendable {
        let address: Int
        let type: PointType
        let raw: Int64
        let period: Double
        let phase: Double
    }

    let targets: [Target]
    static let measuredUnits: Set<String> = [
        "W", "VA", "var", "VAr", "A", "V", "Hz", "C", "%", "%WHRtg", "Pct", "WH", "Wh", "Ah", "AH", "PF",
    ]

    /// The points of `image`'s SunSpec map that move.
    public init(image: RegisterImage, catalog: ModelCatalog = .builtin) {
        var targets: [Target] = []
        guard let device = try? DeviceDecoder.decode(image, catalog: catalog) else {
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
            switch model.value(values, i) {
            case .int(let v): raw = v
            case .uint(let v): raw = Int64(v)
            case .decimal(let d): raw = (d.negative ? -1 : 1) * Int64(d.magnitude)
            default: continue
            }
            guard raw != 0 else { continue }
            let address = base + start + group.pointOffsets[i]
            let seed = Double((address &* 2654435761) % 1000) / 1000
            targets.append(Target(address: address, type: point.type, raw: raw, period: 20 + 40 * seed, phase: seed * 6.283))
        }
        offset = start + group.pointsLength
        for (g, sub) in group.groups.enumerated() {
            for instance in values.groups[g] {
                collect(sub, instance, model, at: base, offset: &offset, into: &targets)
            }
        }
    }

    /// Number of points that move.
    public var count: Int { targets.count }

    /// Writes the values at `seconds` since the start into `image`.
    public func apply(at seconds: Double, to image: inout RegisterImage) {
        for t in targets {
            let swing = 0.03 * sin(2 * Double.pi * seconds / t.period + t.phase)
            var v = Int64((Double(t.raw) * (1 + swing)).rounded())
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

#if canImport(Glibc)
    import Glibc
#endif
