import SunSpec

/// The reads one poll of a device makes: its models merged into requests of up to `maxRegisters`.
///
/// A model of `maxRegisters` or fewer is never split across two requests, so its values and their
/// scale factors always come from the same read; a larger one is cut into full requests, its first
/// part filling the request before it. Gaps between models (static models not polled) are bridged
/// when that saves a request.
///
/// Registers the device refuses (discovery's holes, and those found refused while polling) are
/// never asked for: each model is read as its readable runs, and no request bridges a hole.
public struct PollPlan: Sendable, Equatable {
    /// One read.
    public struct Request: Sendable, Equatable, CustomStringConvertible {
        /// First register.
        public let start: Int
        /// Registers read (1...125).
        public let count: Int
        /// Creates a request.
        public init(start: Int, count: Int) {
            self.start = start
            self.count = count
        }
        /// The registers read.
        public var range: Range<Int> { start..<(start + count) }
        public var description: String { "\(start)+\(count)" }
    }

    /// The reads, in address order.
    public let requests: [Request]
    /// The register limit the plan was made for.
    public let maxRegisters: Int

    /// A plan covering `spans` (register ranges, one per model, ID register included) except the
    /// registers in `holes`.
    public init(spans: [Range<Int>], maxRegisters: Int, holes: Holes = Holes()) {
        let limit = max(1, min(125, maxRegisters))
        self.maxRegisters = limit
        let runs = spans.flatMap { holes.readableRuns(of: $0) }
        var requests: [Request] = []
        var current: Range<Int>?
        func flush() {
            if let c = current { requests.append(Request(start: c.lowerBound, count: c.count)) }
            current = nil
        }
        for span in runs.sorted(by: { $0.lowerBound < $1.lowerBound }) where !span.isEmpty {
            if span.count <= limit {
                if let c = current, span.upperBound - c.lowerBound <= limit, !holes.overlaps(c.upperBound..<span.lowerBound) {
                    current = c.lowerBound..<span.upperBound
                } else {
                    flush()
                    current = span
                }
                continue
            }
            // A model larger than one request: fill the open request with its first part.
            var start = span.lowerBound
            if let c = current, span.lowerBound - c.lowerBound < limit, c.upperBound == span.lowerBound {
                requests.append(Request(start: c.lowerBound, count: limit))
                start = c.lowerBound + limit
                current = nil
            } else {
                flush()
            }
            while span.upperBound - start > limit {
                requests.append(Request(start: start, count: limit))
                start += limit
            }
            current = start..<span.upperBound
        }
        flush()
        self.requests = requests
    }

    /// A plan of fixed requests (a device that must be read in given blocks).
    public init(fixed: [Range<Int>], maxRegisters: Int) {
        self.maxRegisters = maxRegisters
        self.requests = fixed.map { Request(start: $0.lowerBound, count: $0.count) }
    }

    /// Whether a request touches one of `holes`.
    public func touches(_ holes: Holes) -> Bool { requests.contains { holes.overlaps($0.range) } }

    /// Registers read per poll.
    public var registerCount: Int { requests.reduce(0) { $0 + $1.count } }
}

/// Registers a device refuses to read, as sorted, disjoint ranges.
public struct Holes: Sendable, Equatable {
    /// The refused ranges, in address order.
    public private(set) var ranges: [Range<Int>] = []

    /// No holes.
    public init() {}

    /// The registers of `spans` that `image` does not hold (what discovery could not read).
    public init(missingFrom image: RegisterImage, in spans: [Range<Int>]) {
        for span in spans {
            var start: Int?
            for a in span {
                if image.value(at: a) == nil {
                    if start == nil { start = a }
                } else if let s = start {
                    insert(s..<a)
                    start = nil
                }
            }
            if let s = start { insert(s..<span.upperBound) }
        }
    }

    /// Registers refused in all.
    public var count: Int { ranges.reduce(0) { $0 + $1.count } }

    /// Adds refused registers.
    public mutating func insert(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        var merged = range
        var kept: [Range<Int>] = []
        kept.reserveCapacity(ranges.count + 1)
        for r in ranges {
            if r.upperBound < merged.lowerBound || r.lowerBound > merged.upperBound {
                kept.append(r)
            } else {
                merged = min(r.lowerBound, merged.lowerBound)..<max(r.upperBound, merged.upperBound)
            }
        }
        kept.append(merged)
        ranges = kept.sorted { $0.lowerBound < $1.lowerBound }
    }

    /// Whether any register of `range` is refused.
    public func overlaps(_ range: Range<Int>) -> Bool {
        !range.isEmpty && ranges.contains { $0.overlaps(range) }
    }

    /// Whether `address` is refused.
    public func contains(_ address: Int) -> Bool { ranges.contains { $0.contains(address) } }

    /// `span` without its refused registers: the runs that can be read.
    public func readableRuns(of span: Range<Int>) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var start = span.lowerBound
        for hole in ranges where hole.overlaps(span) {
            if hole.lowerBound > start { runs.append(start..<hole.lowerBound) }
            start = max(start, hole.upperBound)
        }
        if start < span.upperBound { runs.append(start..<span.upperBound) }
        return runs
    }
}
