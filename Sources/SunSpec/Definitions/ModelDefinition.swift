/// A SunSpec information model: its id and its top-level group. Immutable, shared by reference.
public final class ModelDefinition: Sendable {
    /// The model id (1, 802, 64110...).
    public let id: Int
    /// The top-level group; its name is the model's name (`battery`, `common`).
    public let group: GroupDefinition

    /// The model's name, the name of its top-level group.
    public var name: String { group.name }
    /// The model's label, if the definition gives one.
    public var label: String? { group.label }

    /// Builds a model and resolves its scale-factor and count references.
    public init(id: Int, group: GroupDefinition) throws(DefinitionError) {
        self.id = id
        guard group.points.count >= 2, group.points[0].name == "ID", group.points[1].name == "L",
            group.points[0].size == 1, group.points[1].size == 1
        else {
            throw DefinitionError("model \(id): the first two points must be ID and L, one register each")
        }
        var top = group
        try top.resolve(ancestors: [], modelID: id)
        self.group = top
    }

    /// Registers of the model when every repeating group is absent: the fixed part, ID and L included.
    public var fixedLength: Int { group.pointsLength }
}

/// A group of points: the top level of a model, or a nested (possibly repeating) group.
public struct GroupDefinition: Sendable {
    /// SunSpec's name of the group (`lithium_ion_string_module`).
    public let name: String
    /// Human label.
    public let label: String?
    /// How many times the group repeats; `nil` for a single group.
    public let count: GroupCount?
    /// Points of one instance, in register order.
    public internal(set) var points: [PointDefinition]
    /// Nested groups, laid out after the points, in order.
    public internal(set) var groups: [GroupDefinition]
    /// Registers taken by the points of one instance.
    public let pointsLength: Int
    /// Register offset of each point from the start of the group instance.
    public let pointOffsets: [Int]
    /// `"name":` as UTF-8, ready to write into a JSON object.
    public let jsonKey: [UInt8]
    /// Where the count point is, once resolved.
    public internal(set) var countReference: PointReference?
    /// The decoding plan of the points: plain values, cheap to copy, aligned with `points`.
    public internal(set) var slots: [PointSlot]
    /// `,"name":` of every point, one after the other; `PointSlot.keyRange` finds a point's (drop the
    /// comma for the first member of an object). One buffer, so writing keys retains nothing.
    public let keyBytes: [UInt8]

    /// Creates a group; offsets are computed from the points' sizes.
    public init(name: String, label: String?, count: GroupCount?, points: [PointDefinition], groups: [GroupDefinition]) {
        self.name = name
        self.label = label
        self.count = count
        self.points = points
        self.groups = groups
        self.jsonKey = JSONBuffer.keyBytes(name)
        var offsets: [Int] = []
        offsets.reserveCapacity(points.count)
        var offset = 0
        for point in points {
            offsets.append(offset)
            offset += point.size
        }
        self.pointOffsets = offsets
        self.pointsLength = offset
        self.slots = points.indices.map { i in
            let scale: PointSlot.Scale =
                switch points[i].scaleFactor {
                case nil: .none
                case .constant(let n)?: .constant(n)
                case .point(_, let ref?)?: .point(levelsUp: ref.levelsUp, offset: ref.offset)
                case .point(_, nil)?: .unresolved
                }
            return PointSlot(
                type: points[i].type, size: points[i].size, offset: offsets[i], isPublished: points[i].isPublished, scale: scale,
                adjust: points[i].exponentAdjust)
        }
        var keys: [UInt8] = []
        for i in slots.indices {
            let start = keys.count
            keys.append(UInt8(ascii: ","))
            keys += points[i].jsonKey
            slots[i].keyRange = Int32(start)..<Int32(keys.count)
        }
        self.keyBytes = keys
    }

    /// Whether the group is repeating (has a `count`), and so appears as an array.
    public var isRepeating: Bool { count != nil }

    /// Index of the point with this name, if any.
    public func pointIndex(named name: String) -> Int? {
        points.firstIndex { $0.name == name }
    }
}

/// What the decoder needs of a point, as a plain value.
public struct PointSlot: Sendable {
    /// How the point's scale factor is found.
    public enum Scale: Sendable, Equatable {
        case none
        case constant(Int)
        /// A sunssf point `levelsUp` groups out, at `offset` in that group's instance.
        case point(levelsUp: Int, offset: Int)
        case unresolved
    }

    /// The point's type.
    public let type: PointType
    /// Registers occupied.
    public let size: Int
    /// Offset from the start of the group instance.
    public let offset: Int
    /// Whether the point appears in `values`.
    public let isPublished: Bool
    /// The scale factor.
    public internal(set) var scale: Scale
    /// A power of ten applied on top of it (device quirks).
    public let adjust: Int
    /// Where `,"name":` is in the group's `keyBytes`.
    public internal(set) var keyRange: Range<Int32> = 0..<0
}

/// The repeat count of a group, as the definition gives it.
public enum GroupCount: Sendable, Equatable {
    /// A fixed number of repeats.
    case fixed(Int)
    /// The value of a point (of the group's own or an enclosing group).
    case point(String)
    /// As many repeats as the model length leaves room for (`count: 0`).
    case fromLength
}

/// A point found by name: how many groups up from the one that refers to it, and its index there.
public struct PointReference: Sendable, Equatable {
    /// 0 is the referring group itself, 1 its parent, and so on out to the top level.
    public let levelsUp: Int
    /// Index of the point in that group's `points`.
    public let index: Int
    /// Register offset of the point in that group's instance.
    public let offset: Int
    /// The point's type.
    public let type: PointType
}

/// A point's scale factor as the definition gives it.
public enum ScaleFactor: Sendable, Equatable {
    /// A constant power of ten.
    case constant(Int)
    /// The name of a `sunssf` point; `reference` is filled in when the model is built.
    case point(String, reference: PointReference?)
}

/// One point of a group.
public struct PointDefinition: Sendable {
    /// SunSpec's point name (`SoC`, `WChaRteMax`).
    public let name: String
    /// The point's type.
    public let type: PointType
    /// Registers occupied.
    public let size: Int
    /// Scale factor, if any.
    public internal(set) var scaleFactor: ScaleFactor?
    /// Units (`W`, `%`, `V`).
    public let units: String?
    /// `R` or `RW`.
    public let access: Access
    /// Whether the point is mandatory.
    public let mandatory: Bool
    /// Whether the point is static (does not change while the device runs).
    public let isStatic: Bool
    /// `"name":` as UTF-8, ready to write into a JSON object.
    public let jsonKey: [UInt8]
    /// A power of ten applied on top of the scale factor (a device quirk: percent for a ratio).
    public let exponentAdjust: Int
    /// A fixed value the definition gives (the model ID point's own id, for example).
    public let value: DefinitionValue?
    /// Enum and bitfield symbols: names by value.
    public let symbols: [Symbol]
    /// Human label.
    public let label: String?

    /// Creates a point definition.
    public init(
        name: String, type: PointType, size: Int, scaleFactor: ScaleFactor? = nil, units: String? = nil,
        access: Access = .read, mandatory: Bool = false, isStatic: Bool = false, value: DefinitionValue? = nil,
        symbols: [Symbol] = [], label: String? = nil, exponentAdjust: Int = 0
    ) {
        self.exponentAdjust = exponentAdjust
        self.name = name
        self.type = type
        self.size = size
        self.scaleFactor = scaleFactor
        self.units = units
        self.access = access
        self.mandatory = mandatory
        self.isStatic = isStatic
        self.value = value
        self.symbols = symbols
        self.label = label
        self.jsonKey = JSONBuffer.keyBytes(name)
    }

    /// Whether the point appears in a reading's `values` (sunssf and pad points do not).
    public var isPublished: Bool { type != .sunssf && type != .pad }
}

/// Read or read-write.
public enum Access: String, Sendable {
    case read = "R"
    case readWrite = "RW"
}

/// An enum or bitfield symbol.
public struct Symbol: Sendable, Equatable {
    /// SunSpec's symbol name.
    public let name: String
    /// The value (enum) or bit number (bitfield).
    public let value: Int64
    /// Creates a symbol.
    public init(name: String, value: Int64) {
        self.name = name
        self.value = value
    }
}

/// A fixed value from a definition.
public enum DefinitionValue: Sendable, Equatable {
    case integer(Int64)
    case text(String)
}
