/// A model definition that cannot be used, with where the problem is.
public struct DefinitionError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, naming the model, group and point.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
