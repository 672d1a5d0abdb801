/// Where a point is in one model instance as read: offsets from the model's ID register.
public struct PointLocation: Sendable, Equatable {
    /// Offset of the point's first register from the model's ID register.
    public let offset: Int
    /// Registers the point occupies.
    public let size: Int
    /// Where its scale factor comes from.
    public let scale: ScaleLocation

    /// Creates a location.
    public init(offset: Int, size: Int, scale: ScaleLocation) {
        self.offset = offset
        self.size = size
        self.scale = scale
    }
}

/// A point's scale factor: none, a constant of the definition, or a sunssf register.
public enum ScaleLocation: Sendable, Equatable {
    /// The point has no scale factor.
    case none
    /// A constant power of ten.
    case constant(Int)
    /// The sunssf register at this offset from the model's ID register.
    case register(offset: Int)
}

/// Locates points in a model instance's registers the way `ModelDecoder` lays them out: repeating
/// groups' counts read from the registers, L ruling over the definition.
public enum ControlLayout {
    /// Locates `path` in one model instance whose registers, from its ID register on (L + 2 of
    /// them; nil = not read), are given. nil when the instance has no such point: no such group
    /// repeat, a count that is not implemented or not read, repeats that do not fill L wholly, or
    /// the point past L.
    public static func locate(_ path: PointPath, in definition: ModelDefinition, registers: [UInt16?]) -> PointLocation? {
        guard registers.count >= 2, let length = registers[1] else { return nil }
        var walk = Walk(registers: registers, limit: Int(length) + 2)
        return walk.locate(path, definition)
    }
}

/// One walk over a model instance's layout.
private struct Walk {
    let registers: [UInt16?]
    /// L + 2.
    let limit: Int
    /// Where each enclosing group instance starts, outermost first.
    var starts: [Int] = []

    mutating func locate(_ path: PointPath, _ definition: ModelDefinition) -> PointLocation? {
        var group = definition.group
        var start = 0
        for step in path.groups {
            starts.append(start)
            guard let g = group.groups.firstIndex(where: { $0.name == step.name }) else { return nil }
            // Past the points, then past the groups laid out before this one, each with all its repeats.
            var at = start + group.pointsLength
            for earlier in group.groups[..<g] {
                guard let size = repeatsSize(earlier, at: at, isLast: false) else { return nil }
                at += size
            }
            let sub = group.groups[g]
            guard let count = repeatCount(sub, at: at, isLast: g == group.groups.count - 1), step.index < count else { return nil }
            for _ in 0..<step.index {
                guard let one = instanceSize(sub, at: at) else { return nil }
                at += one
            }
            group = sub
            start = at
        }
        starts.append(start)
        guard let index = group.pointIndex(named: path.point) else { return nil }
        let point = group.points[index]
        let offset = start + group.pointOffsets[index]
        guard offset + point.size <= limit else { return nil }
        let scale: ScaleLocation
        switch point.scaleFactor {
        case nil: scale = .none
        case .constant(let n)?: scale = .constant(n)
        case .point(_, let ref?)?: scale = .register(offset: starts[starts.count - 1 - ref.levelsUp] + ref.offset)
        case .point(_, nil)?: return nil
        }
        return PointLocation(offset: offset, size: point.size, scale: scale)
    }

    /// How many repeats of `group` (starting at `at`, in the instance last in `starts`) there are.
    /// A `count: 0` group fills L and must be the last thing of its instance; its repeats must fill it wholly.
    mutating func repeatCount(_ group: GroupDefinition, at: Int, isLast: Bool) -> Int? {
        switch group.count {
        case nil: return 1
        case .fixed(let n)?: return n
        case .point?:
            guard let ref = group.countReference else { return nil }
            let index = starts.count - ref.levelsUp
            guard index >= 0 else { return nil }
            let address = starts[index] + ref.offset
            guard address < limit, address < registers.count, let raw = registers[address], raw != 0xFFFF else { return nil }
            return Int(raw)
        case .fromLength?:
            guard isLast, starts.count == 1 else { return nil }
            var n = 0
            var position = at
            while position < limit {
                guard let one = instanceSize(group, at: position), one > 0 else { return nil }
                position += one
                n += 1
            }
            return position == limit ? n : nil
        }
    }

    /// Registers of all the repeats of `group` starting at `at`.
    mutating func repeatsSize(_ group: GroupDefinition, at: Int, isLast: Bool) -> Int? {
        guard let count = repeatCount(group, at: at, isLast: isLast) else { return nil }
        var size = 0
        for _ in 0..<count {
            guard let one = instanceSize(group, at: at + size) else { return nil }
            size += one
            if at + size > limit { break }  // past L: whatever follows is not there
        }
        return size
    }

    /// Registers of the one instance of `group` starting at `start`, nested groups included.
    mutating func instanceSize(_ group: GroupDefinition, at start: Int) -> Int? {
        var size = group.pointsLength
        if group.groups.isEmpty { return size }
        starts.append(start)
        defer { starts.removeLast() }
        for (i, sub) in group.groups.enumerated() {
            guard sub.count != .fromLength else { return nil }
            guard let more = repeatsSize(sub, at: start + size, isLast: i == group.groups.count - 1) else { return nil }
            size += more
            if start + size > limit { return size }
        }
        return size
    }
}
