/// Where the values of one group instance are, aligned with its `GroupDefinition`.
///
/// The values themselves sit in the model's flat `points` array, in register order: one allocation
/// per model instead of one per group instance.
public struct GroupValues: Sendable, Equatable {
    /// Index in `DecodedModel.points` of this instance's first point; its points follow in
    /// definition order (sunssf and pad included).
    public var first: Int
    /// For each nested group of the definition, its instances (one for a single group).
    public var groups: [[GroupValues]]

    /// Creates group values.
    public init(first: Int, groups: [[GroupValues]]) {
        self.first = first
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
    /// Every point value of every group instance, in register order, as stored.
    let stored: [StoredValue]
    /// The model's registers from its ID register (text points are read from them).
    let registers: ArraySlice<UInt16>

    /// Every point value of every group instance, in register order.
    public var points: [PointValue] { stored.map { $0.resolved(registers) } }
    /// The registers after L, for a model with no definition (nil where not captured).
    public let raw: [UInt16?]?
    /// What did not fit the rules: length disagreements, missing registers.
    public let errors: [String]

    /// Creates a decoded model.
    init(
        id: Int, definition: ModelDefinition?, length: Int, values: GroupValues?, stored: [StoredValue], registers: ArraySlice<UInt16>,
        raw: [UInt16?]?, errors: [String]
    ) {
        self.id = id
        self.definition = definition
        self.length = length
        self.values = values
        self.stored = stored
        self.registers = registers
        self.raw = raw
        self.errors = errors
    }

    /// The value of a top-level point, by name.
    public subscript(point name: String) -> PointValue? {
        guard let def = definition, let values, let i = def.group.pointIndex(named: name) else { return nil }
        return stored[values.first + i].resolved(registers)
    }

    /// Whether `other` holds the same values: the same model and length, the same stored values and
    /// registers (what every point value is made from). A cheap test before comparing point by point;
    /// false can still mean the same values (a NaN is never equal to itself).
    public func hasSameValues(as other: DecodedModel) -> Bool {
        id == other.id && length == other.length && stored == other.stored && registers == other.registers
    }

    /// The same model with more messages in its errors.
    public func adding(errors more: [String]) -> DecodedModel {
        guard !more.isEmpty else { return self }
        return DecodedModel(
            id: id, definition: definition, length: length, values: values, stored: stored, registers: registers, raw: raw,
            errors: errors + more)
    }

    /// The same model without its values (what a meta record needs: id, definition, length).
    public func withoutValues() -> DecodedModel {
        DecodedModel(id: id, definition: definition, length: length, values: nil, stored: [], registers: [], raw: nil, errors: [])
    }

    /// The value of point `index` of a group instance.
    public func value(_ instance: GroupValues, _ index: Int) -> PointValue {
        stored[instance.first + index].resolved(registers)
    }
}
