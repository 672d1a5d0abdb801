import ModbusCore

extension Profile {
    /// The reads one poll makes: the profile's fixed blocks, or its registers merged.
    /// `maxGap` overrides the profile's (0: read only registers a source uses, for a device that
    /// refuses reads over registers it does not have).
    public func readPlan(maxRegisters: Int = 125, maxGap: Int? = nil) -> [ReadBlock] {
        let profile = self
        let gap = maxGap ?? profile.defaults.maxGap
        if !profile.defaults.blocks.isEmpty { return profile.defaults.blocks }
        let limit = min(maxRegisters, profile.defaults.maxRegisters)
        var ranges: [(RegisterKind, Range<Int>)] = []
        func add(_ source: PointSource) {
            switch source {
            case .register(let r): ranges += r.allRegisters.map { (r.function, $0) }
            case .bits(let list): for b in list { ranges.append((b.function, b.registers)) }
            default: break
            }
        }
        for model in profile.models {
            model.points.values.forEach(add)
            for instances in model.groups.values { for sources in instances { sources.values.forEach(add) } }
        }
        var blocks: [ReadBlock] = []
        for function in [RegisterKind.holding, .input] {
            let sorted = ranges.filter { $0.0 == function }.map(\.1).sorted { $0.lowerBound < $1.lowerBound }
            var current: Range<Int>?
            for r in sorted {
                if let c = current, r.lowerBound <= c.upperBound + gap,
                    max(c.upperBound, r.upperBound) - c.lowerBound <= limit
                {
                    current = c.lowerBound..<max(c.upperBound, r.upperBound)
                } else {
                    if let c = current { blocks.append(ReadBlock(start: c.lowerBound, count: c.count, function: function)) }
                    current = r
                }
            }
            if let c = current { blocks.append(ReadBlock(start: c.lowerBound, count: c.count, function: function)) }
        }
        return blocks
    }

}
