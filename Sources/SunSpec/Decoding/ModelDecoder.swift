/// Decodes the registers of one model instance against its definition.
///
/// The model length L rules over the definition: points past L are null, repeating groups get only
/// the repeats that both their count and L allow, and registers past the definition are ignored.
/// Every such disagreement adds a message to the model's errors.
public enum ModelDecoder {
    /// Decodes a model whose ID register is `window.values[0]`; `length` is L, and the window
    /// should hold `length + 2` registers (fewer are treated as not captured).
    public static func decode(_ definition: ModelDefinition, window: RegisterWindow, length: Int) -> DecodedModel {
        var context = Context(window: window, limit: length + 2, modelID: definition.id)
        var offset = 0
        var ancestors: [[PointValue]] = []
        let values = context.decodeGroup(definition.group, offset: &offset, ancestors: &ancestors)
        if context.truncated {
            context.errors.append("L=\(length) is shorter than the \(offset - 2) registers the definition lays out; points past it are null")
        } else if offset < context.limit {
            context.errors.append(
                "L=\(length) is longer than the \(offset - 2) registers the definition lays out; the \(context.limit - offset) after them are ignored")
        }
        if context.missingPoints > 0 {
            context.errors.insert(
                "\(window.missingCount) registers were not captured; \(context.missingPoints) points that use them are null", at: 0)
        }
        return DecodedModel(id: definition.id, definition: definition, length: length, values: values, raw: nil, errors: context.errors)
    }

    /// A model with no definition: its registers after L, raw.
    public static func undefined(id: Int, window: RegisterWindow, length: Int) -> DecodedModel {
        var raw: [UInt16?] = []
        raw.reserveCapacity(length)
        var errors: [String] = []
        for i in 2..<(length + 2) {
            if i < window.count, window.missing?[i] != true {
                raw.append(window.values[i])
            } else {
                raw.append(nil)
            }
        }
        let missing = raw.lazy.filter { $0 == nil }.count
        if missing > 0 { errors.append("\(missing) registers were not captured") }
        return DecodedModel(id: id, definition: nil, length: length, values: nil, raw: raw, errors: errors)
    }
}

// MARK: - Decoding state

private struct Context {
    let window: RegisterWindow
    let limit: Int
    let modelID: Int
    var errors: [String] = []
    var truncated = false
    var missingPoints = 0

    init(window: RegisterWindow, limit: Int, modelID: Int) {
        self.window = window
        self.limit = limit
        self.modelID = modelID
    }

    /// Decodes one instance of `group` at `offset` (advanced past it). `ancestors` holds the point
    /// values of the enclosing instances, outermost first.
    mutating func decodeGroup(_ group: GroupDefinition, offset: inout Int, ancestors: inout [[PointValue]]) -> GroupValues {
        var points = [PointValue](repeating: .null, count: group.points.count)
        let start = offset
        var cutShort = false
        window.values.withUnsafeBufferPointer { regs in
            for (i, point) in group.points.enumerated() {
                let at = start + group.pointOffsets[i]
                if at + point.size > limit || at + point.size > regs.count {
                    cutShort = true
                    continue
                }
                if let missing = window.missing, missing[at..<(at + point.size)].contains(true) {
                    if point.isPublished { missingPoints += 1 }
                    continue
                }
                points[i] = PointDecoding.decode(point.type, regs, at, point.size)
            }
        }
        if cutShort { truncated = true }
        offset = start + group.pointsLength
        applyScaleFactors(group, &points, ancestors)
        var groups: [[GroupValues]] = []
        groups.reserveCapacity(group.groups.count)
        if group.groups.isEmpty { return GroupValues(points: points, groups: groups) }
        ancestors.append(points)
        for sub in group.groups {
            groups.append(decodeRepeats(sub, offset: &offset, ancestors: &ancestors))
        }
        ancestors.removeLast()
        return GroupValues(points: points, groups: groups)
    }

    private mutating func decodeRepeats(_ group: GroupDefinition, offset: inout Int, ancestors: inout [[PointValue]]) -> [GroupValues] {
        guard let count = group.count else {
            return [decodeGroup(group, offset: &offset, ancestors: &ancestors)]
        }
        let repeatSize = Self.repeatSize(group, ancestors: ancestors)
        let room = max(0, limit - offset)
        let fit = repeatSize > 0 ? room / repeatSize : 0
        var wanted: Int
        switch count {
        case .fixed(let n):
            wanted = n
        case .fromLength:
            wanted = fit
            if repeatSize > 0 && room % repeatSize != 0 {
                errors.append("group '\(group.name)': \(room % repeatSize) registers after the last whole repeat are ignored")
            }
        case .point(let name):
            let ref = group.countReference!
            let value = ancestors[ancestors.count - ref.levelsUp][ref.index]
            if let n = value.intValue, n >= 0 {
                wanted = Int(min(n, 65535))
            } else {
                errors.append("group '\(group.name)': count point \(name) is not implemented; no repeats decoded")
                wanted = 0
            }
        }
        var n = wanted
        if wanted > fit {
            n = fit
            if !truncated {
                errors.append("group '\(group.name)': count is \(wanted) but L leaves room for \(fit); decoded \(fit)")
            }
        }
        var out: [GroupValues] = []
        out.reserveCapacity(n)
        for _ in 0..<n {
            out.append(decodeGroup(group, offset: &offset, ancestors: &ancestors))
        }
        return out
    }

    /// Registers of one repeat of `group`, nested repeating groups included (their counts read from
    /// the ancestors already decoded; a count inside the repeat itself is not supported by SunSpec).
    static func repeatSize(_ group: GroupDefinition, ancestors: [[PointValue]]) -> Int {
        var size = group.pointsLength
        for sub in group.groups {
            let one = repeatSize(sub, ancestors: ancestors + [[]])
            switch sub.count {
            case nil: size += one
            case .fixed(let n): size += n * one
            case .fromLength: break
            case .point:
                let ref = sub.countReference!
                // levelsUp counts from `sub`: 1 is `group` (not decoded yet), 2 and more are ancestors.
                let depth = ancestors.count - (ref.levelsUp - 1)
                if depth >= 0, depth < ancestors.count, ref.index < ancestors[depth].count,
                    let n = ancestors[depth][ref.index].intValue, n > 0
                {
                    size += Int(min(n, 65535)) * one
                }
            }
        }
        return size
    }

    private func applyScaleFactors(_ group: GroupDefinition, _ points: inout [PointValue], _ ancestors: [[PointValue]]) {
        for (i, point) in group.points.enumerated() {
            guard let sf = point.scaleFactor else { continue }
            let exponent: Int
            switch sf {
            case .constant(let n):
                exponent = n
            case .point(_, let ref?):
                let source = ref.levelsUp == 0 ? points[ref.index] : ancestors[ancestors.count - ref.levelsUp][ref.index]
                guard case .int(let e) = source, (-10...10).contains(e) else {
                    points[i] = .null
                    continue
                }
                exponent = Int(e)
            case .point(_, nil):
                points[i] = .null
                continue
            }
            points[i] = Self.scale(points[i], exponent)
        }
    }

    static func scale(_ value: PointValue, _ exponent: Int) -> PointValue {
        switch value {
        case .int(let raw): return .decimal(ExactDecimal(raw, exponent: exponent))
        case .uint(let raw): return .decimal(ExactDecimal(unsigned: raw, exponent: exponent))
        case .float32(let f): return exponent == 0 ? value : .float64(Double(f) * pow10(exponent))
        case .float64(let d): return exponent == 0 ? value : .float64(d * pow10(exponent))
        default: return value
        }
    }

    static func pow10(_ e: Int) -> Double {
        var v = 1.0
        for _ in 0..<abs(e) { v *= 10 }
        return e < 0 ? 1 / v : v
    }
}
