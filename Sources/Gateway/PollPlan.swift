/// The reads one poll of a device makes: its models merged into requests of up to `maxRegisters`.
///
/// A model of `maxRegisters` or fewer is never split across two requests, so its values and their
/// scale factors always come from the same read; a larger one is cut into full requests, its first
/// part filling the request before it. Gaps between models (static models not polled) are bridged
/// when that saves a request.
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

    /// A plan covering `spans` (register ranges, one per model, ID register included).
    public init(spans: [Range<Int>], maxRegisters: Int) {
        let limit = max(1, min(125, maxRegisters))
        self.maxRegisters = limit
        var requests: [Request] = []
        var current: Range<Int>?
        func flush() {
            if let c = current { requests.append(Request(start: c.lowerBound, count: c.count)) }
            current = nil
        }
        for span in spans.sorted(by: { $0.lowerBound < $1.lowerBound }) where !span.isEmpty {
            if span.count <= limit {
                if let c = current, span.upperBound - c.lowerBound <= limit {
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

    /// Registers read per poll.
    public var registerCount: Int { requests.reduce(0) { $0 + $1.count } }
}
