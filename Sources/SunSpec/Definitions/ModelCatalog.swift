import Synchronization

/// The model definitions in use: the built-in official ones, overridden by any loaded at run time.
///
/// Built-in definitions are parsed on first use (a command that decodes three models parses three),
/// then kept; a lookup is a binary search and one uncontended lock.
public final class ModelCatalog: Sendable {
    private let overrides: [Int: ModelDefinition]
    private let hasOverrides: Bool
    /// Parsed built-in definitions, aligned with `builtinIDs`.
    private let parsed: Mutex<[ModelDefinition?]>

    /// The built-in model ids, ascending.
    private static let builtinIDs: [Int] = builtinModelJSON.keys.sorted()

    /// The built-in official definitions only.
    public static let builtin = ModelCatalog(overrides: [:])

    /// A catalog whose `overrides` replace the built-in models with the same id.
    public init(overrides: [Int: ModelDefinition]) {
        self.overrides = overrides
        self.hasOverrides = !overrides.isEmpty
        self.parsed = Mutex([ModelDefinition?](repeating: nil, count: Self.builtinIDs.count))
    }

    /// Where the built-in definitions come from.
    public static var builtinSource: String { builtinModelSource }

    /// The definition of a model id, or nil when none is known.
    public func definition(for id: Int) -> ModelDefinition? {
        if hasOverrides, let model = overrides[id] { return model }
        guard let slot = Self.slot(of: id) else { return nil }
        if let model = parsed.withLock({ $0[slot] }) { return model }
        // The built-in definitions are checked by the tests; a failure here is a build defect.
        let model = try! ModelDefinition(json: builtinModelJSON[id]!.utf8)
        parsed.withLock { $0[slot] = model }
        return model
    }

    private static func slot(of id: Int) -> Int? {
        var lo = 0, hi = builtinIDs.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            let value = builtinIDs[mid]
            if value == id { return mid }
            if value < id { lo = mid + 1 } else { hi = mid - 1 }
        }
        return nil
    }

    /// Every known model id, ascending.
    public var ids: [Int] {
        Set(Self.builtinIDs).union(overrides.keys).sorted()
    }
}
