/// The decoded values of one group instance, aligned with its `GroupDefinition`.
public struct GroupValues: Sendable, Equatable {
    /// One value per point of the definition, in order (sunssf and pad included).
    public var points: [PointValue]
    /// For each nested group of the definition, its instances (one for a single group).
    public var groups: [[GroupValues]]

    /// Creates group values.
    public init(points: [PointValue], groups: [[GroupValues]]) {
        self.points = points
        self.groups = groups
    }
}

/// One decoded model instance.
public struct DecodedModel: Sendable {
    /// The model id read from the device.
    public let id: Int
    /// The definition used, or nil when the id has none.
    public let definition: ModelDefinition?
    /// The model length L read from the device.
    public let length: Int
    /// Values aligned with the definition; nil for a model with no definition.
    public let values: GroupValues?
    /// The registers after L, for a model with no definition (nil where not captured).
    public let raw: [UInt16?]?
    /// What did not fit the rules: length disagreements, missing registers.
    public let errors: [String]

    /// Creates a decoded model.
    public init(id: Int, definition: ModelDefinition?, length: Int, values: GroupValues?, raw: [UInt16?]?, errors: [String]) {
        self.id = id
        self.definition = definition
        self.length = length
        self.values = values
        self.raw = raw
        self.errors = errors
    }

    /// The value of a top-level point, by name.
    public subscript(point name: String) -> PointValue? {
        guard let def = definition, let values, let i = def.group.pointIndex(named: name) else { return nil }
        return values.points[i]
    }
}
