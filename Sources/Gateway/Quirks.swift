import SunSpec

/// Declarative fixes for devices whose SunSpec is broken, as public reports describe them. They
/// change how the device is read (base, unit id, read blocks) or how its models are decoded (a
/// catalog of adjusted definitions), never the decoder itself.
public struct Quirks: Sendable, Equatable {
    /// The map starts one register off (40001, 1, 50001): the base to use.
    public var base: Int?
    /// The device answers at its configured unit id plus this offset.
    public var unitOffset = 0
    /// Accumulators that are really signed (negative acc32 energy counters): decoded as int.
    public var signedAccumulators = false
    /// Power factors reported in percent (95.83 for 0.9583): scaled down by 100.
    public var powerFactorPercent = false
    /// Scale factors to use instead of the device's, by `MODEL.SF_POINT` (`103.W_SF`).
    public var scaleFactors: [String: Int] = [:]
    /// Fixed read blocks the device needs (start, count): polls read exactly these.
    public var blocks: [Range<Int>] = []

    /// No quirks.
    public init() {}

    /// Whether any quirk changes how models decode.
    public var changesDecoding: Bool { signedAccumulators || powerFactorPercent || !scaleFactors.isEmpty }

    /// A catalog with the definitions adjusted by the decoding quirks (the built-in one if none).
    public func catalog(_ base: ModelCatalog = .builtin) -> ModelCatalog {
        guard changesDecoding else { return base }
        var overrides: [Int: ModelDefinition] = [:]
        for id in base.ids {
            guard let definition = base.definition(for: id) else { continue }
            let adjusted = adjust(definition.group, modelID: id)
            // Adjusting types and scale factors keeps sizes and names, so the definition stays valid;
            // should it not, the model keeps its own definition rather than none.
            do { overrides[id] = try ModelDefinition(id: id, group: adjusted) } catch {
                assertionFailure("quirks broke model \(id): \(error)")
            }
        }
        return ModelCatalog(overrides: overrides)
    }

    static let powerFactorPoints: Set<String> = ["PF", "PFphA", "PFphB", "PFphC"]

    private func adjust(_ group: GroupDefinition, modelID: Int) -> GroupDefinition {
        let points = group.points.map { point -> PointDefinition in
            var type = point.type
            if signedAccumulators {
                switch point.type {
                case .acc16: type = .int16
                case .acc32: type = .int32
                case .acc64: type = .int64
                default: break
                }
            }
            var scaleFactor = point.scaleFactor
            if case .point(let name, _)? = point.scaleFactor, let constant = scaleFactors["\(modelID).\(name)"] {
                scaleFactor = .constant(constant)
            }
            var adjust = 0
            if powerFactorPercent, Self.powerFactorPoints.contains(point.name),
                point.units == nil || point.units == "Pct" || point.units == "cos()"
            {
                adjust = -2
            }
            if case .point(let name, _)? = scaleFactor { scaleFactor = .point(name, reference: nil) }
            return PointDefinition(
                name: point.name, type: type, size: point.size, scaleFactor: scaleFactor, units: point.units, access: point.access,
                mandatory: point.mandatory, isStatic: point.isStatic, value: point.value, symbols: point.symbols, label: point.label,
                exponentAdjust: adjust)
        }
        return GroupDefinition(
            name: group.name, label: group.label, count: group.count, points: points,
            groups: group.groups.map { adjust($0, modelID: modelID) })
    }
}
