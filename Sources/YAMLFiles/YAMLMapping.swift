import Yams

/// A mapping's entries in the file's order, each key given once: its name, the key's node (for the
/// line of a mistake about the key) and the value.
public struct YAMLMapping: Sequence {
    /// One key and its value.
    public typealias Entry = (name: String, key: Node, value: Node)

    /// The entries in the file's order.
    public let entries: [Entry]
    private let index: [String: Int]

    init(entries: [Entry], index: [String: Int]) {
        self.entries = entries
        self.index = index
    }

    /// The value given for `name`, if any.
    public subscript(name: String) -> Node? {
        index[name].map { entries[$0].value }
    }

    /// How many keys are given.
    public var count: Int { entries.count }

    /// Iterates the entries in the file's order.
    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }
}
