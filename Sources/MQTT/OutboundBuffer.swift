/// Something an `OutboundBuffer` holds, with the bytes it counts against the buffer's limit.
public protocol BufferedItem: Sendable {
    /// Bytes counted for it.
    var byteCount: Int { get }
}

extension MQTTMessage: BufferedItem {}

/// A first-in first-out queue bounded by a number of items and of bytes: past either bound, the oldest
/// go first, and are counted. What a publisher keeps while its broker is away.
public struct OutboundBuffer<Item: BufferedItem>: Sendable {
    /// Most items kept.
    public let maxItems: Int
    /// Most bytes kept (the newest item is kept even if it alone is larger).
    public let maxBytes: Int
    private var items: [Item?] = []
    private var head = 0
    /// Bytes of the items kept.
    public private(set) var bytes = 0
    /// Items dropped to make room, since the buffer was made.
    public private(set) var dropped = 0

    /// An empty buffer with these bounds (each at least 1).
    public init(maxItems: Int, maxBytes: Int) {
        self.maxItems = max(1, maxItems)
        self.maxBytes = max(1, maxBytes)
    }

    /// Items kept.
    public var count: Int { items.count - head }
    /// Whether nothing is kept.
    public var isEmpty: Bool { count == 0 }

    /// Adds an item at the end; returns how many of the oldest were dropped to make room.
    @discardableResult
    public mutating func append(_ item: Item) -> Int {
        items.append(item)
        bytes += item.byteCount
        var gone = 0
        while count > 1 && (count > maxItems || bytes > maxBytes) {
            _ = removeFirst()
            gone += 1
        }
        dropped += gone
        return gone
    }

    /// Takes the oldest item out.
    public mutating func removeFirst() -> Item? {
        guard head < items.count, let item = items[head] else { return nil }
        items[head] = nil
        head += 1
        bytes -= item.byteCount
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }

    /// Takes up to `limit` of the oldest items out, oldest first.
    public mutating func removeFirst(upTo limit: Int) -> [Item] {
        var out: [Item] = []
        out.reserveCapacity(min(limit, count))
        while out.count < limit, let item = removeFirst() { out.append(item) }
        return out
    }

    /// Changes every item kept, in place (in order).
    public mutating func update(_ body: (inout Item) -> Void) {
        for i in head..<items.count {
            guard var item = items[i] else { continue }
            let before = item.byteCount
            body(&item)
            bytes += item.byteCount - before
            items[i] = item
        }
    }

    /// Keeps only the items `keep` says yes to, in order.
    public mutating func filter(_ keep: (Item) -> Bool) {
        let kept = items[head...].compactMap { $0 }.filter(keep)
        items = kept
        head = 0
        bytes = kept.reduce(0) { $0 + $1.byteCount }
    }
}
