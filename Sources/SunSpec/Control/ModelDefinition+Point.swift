extension ModelDefinition {
    /// The definition of the point `path` names (its model and instance are not checked here).
    ///
    /// Throws when a group or point does not exist, a step names a point rather than a group (or the
    /// last name a group), a group that does not repeat is given an index, or an index is past a
    /// fixed count.
    public func point(at path: PointPath) throws(ControlPathError) -> PointDefinition {
        try pointAndGroup(at: path).point
    }

    /// The point `path` names and the group that holds it.
    func pointAndGroup(at path: PointPath) throws(ControlPathError) -> (point: PointDefinition, group: GroupDefinition) {
        var group = self.group
        var walked = "\(id)"
        for step in path.groups {
            guard let sub = group.groups.first(where: { $0.name == step.name }) else {
                if group.pointIndex(named: step.name) != nil {
                    throw ControlPathError("\(path): \(step.name) is a point of \(walked), not a group")
                }
                throw ControlPathError("\(path): \(walked) (\(name)) has no group \(step.name)\(Self.groupNames(group))")
            }
            switch sub.count {
            case nil where step.index != 0:
                throw ControlPathError("\(path): group \(step.name) does not repeat, so it takes no index")
            case .fixed(let n)? where step.index >= n:
                throw ControlPathError("\(path): group \(step.name) repeats \(n) times (indexes 0...\(n - 1))")
            default: break
            }
            group = sub
            walked += ".\(step.name)"
        }
        guard let index = group.pointIndex(named: path.point) else {
            if group.groups.contains(where: { $0.name == path.point }) {
                throw ControlPathError("\(path): \(path.point) is a group of \(walked), not a point")
            }
            let hint = Self.where(path.point, in: group, under: walked).map { " (it is \($0))" } ?? ""
            throw ControlPathError("\(path): \(walked) (\(name)) has no point \(path.point)\(hint)")
        }
        return (group.points[index], group)
    }

    private static func groupNames(_ group: GroupDefinition) -> String {
        group.groups.isEmpty ? "" : " (groups: \(group.groups.map(\.name).joined(separator: ", ")))"
    }

    /// Where a point of that name is in a nested group, as a path's tail (`803.string.StrSetEna`).
    private static func `where`(_ point: String, in group: GroupDefinition, under walked: String) -> String? {
        for sub in group.groups {
            let here = "\(walked).\(sub.name)"
            if sub.pointIndex(named: point) != nil { return "\(here).\(point)" }
            if let deeper = Self.where(point, in: sub, under: here) { return deeper }
        }
        return nil
    }
}
