extension GroupDefinition {
    /// Resolves named scale factors and count points: a name is looked up in the group that uses it,
    /// then each enclosing group out to the model's top level.
    mutating func resolve(ancestors: [GroupDefinition], modelID: Int) throws(DefinitionError) {
        guard ancestors.count < 6 else {
            throw DefinitionError("model \(modelID): group '\(name)' is nested deeper than 6 groups")
        }
        let chain = [self] + ancestors.reversed()  // own group first, then outwards
        for i in points.indices {
            guard case .point(let sfName, _) = points[i].scaleFactor else { continue }
            guard let ref = Self.find(sfName, in: chain) else {
                throw DefinitionError(
                    "model \(modelID): scale factor '\(sfName)' of point '\(name).\(points[i].name)' is not a point of its group or an enclosing one"
                )
            }
            let target = chain[ref.levelsUp].points[ref.index]
            guard target.type == .sunssf else {
                throw DefinitionError(
                    "model \(modelID): scale factor '\(sfName)' of point '\(name).\(points[i].name)' is a \(target.type.rawValue), not a sunssf"
                )
            }
            points[i].scaleFactor = .point(sfName, reference: ref)
            slots[i].scale = .point(levelsUp: ref.levelsUp, offset: ref.offset)
        }
        if case .point(let countName) = count {
            // The count point lives in an enclosing group (the top level, in practice).
            guard let ref = Self.find(countName, in: Array(chain.dropFirst())) else {
                throw DefinitionError(
                    "model \(modelID): count point '\(countName)' of group '\(name)' is not a point of an enclosing group")
            }
            countReference = PointReference(levelsUp: ref.levelsUp + 1, index: ref.index, offset: ref.offset, type: ref.type)
        }
        let inner = ancestors + [self]
        for g in groups.indices {
            try groups[g].resolve(ancestors: inner, modelID: modelID)
        }
    }

    private static func find(_ name: String, in chain: [GroupDefinition]) -> PointReference? {
        for (level, group) in chain.enumerated() {
            if let index = group.pointIndex(named: name) {
                return PointReference(levelsUp: level, index: index, offset: group.pointOffsets[index], type: group.points[index].type)
            }
        }
        return nil
    }
}
