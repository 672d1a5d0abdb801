import Foundation
import Synchronization

/// The model definitions in use: the built-in official ones, overridden by any loaded at run time.
public final class ModelCatalog: Sendable {
    private let overrides: [Int: ModelDefinition]
    private let cache = Mutex<[Int: ModelDefinition]>([:])

    /// The built-in official definitions only.
    public static let builtin = ModelCatalog(overrides: [:])

    /// A catalog whose `overrides` replace the built-in models with the same id.
    public init(overrides: [Int: ModelDefinition]) {
        self.overrides = overrides
    }

    /// Where the built-in definitions come from.
    public static var builtinSource: String { builtinModelSource }

    /// The definition of a model id, or nil when none is known.
    public func definition(for id: Int) -> ModelDefinition? {
        if let model = overrides[id] { return model }
        if let model = cache.withLock({ $0[id] }) { return model }
        guard let json = builtinModelJSON[id] else { return nil }
        // The built-in definitions are checked by the tests; a failure here is a build defect.
        let model = try! ModelDefinition(json: Data(json.utf8))
        cache.withLock { $0[id] = model }
        return model
    }

    /// Every known model id, ascending.
    public var ids: [Int] {
        Set(builtinModelJSON.keys).union(overrides.keys).sorted()
    }
}
