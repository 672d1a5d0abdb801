extension RegisterImage {
    /// Builds an image from blocks given in any order, in time near-linear in the registers given:
    /// blocks in ascending order are appended; from the first one out of order on, registers inside
    /// the Modbus address space (0...65535) are written into a flat map that is turned into blocks
    /// once at the end. Where blocks overlap, the later one wins, as with `insert`.
    public struct Builder: Sendable {
        private var ordered: [Block] = []
        private var values: [UInt16] = []
        private var present: [Bool] = []
        private var low = Int.max
        private var high = Int.min
        /// Blocks outside 0...65535, inserted one by one (never from a capture, which is refused first).
        private var outside: RegisterImage?
        private var isFlat = false

        static let space = 65536

        /// An empty builder.
        public init() {}

        /// Adds registers, replacing any already given at the same addresses.
        public mutating func insert(_ block: Block) {
            guard !block.registers.isEmpty else { return }
            if outside != nil {
                outside!.insert(block)
                return
            }
            if !isFlat {
                guard let last = ordered.last, last.end > block.start else {
                    if let last = ordered.last, last.end == block.start {
                        ordered[ordered.count - 1].registers.append(contentsOf: block.registers)
                    } else {
                        ordered.append(block)
                    }
                    return
                }
                guard block.start >= 0, block.end <= Self.space, ordered[0].start >= 0, last.end <= Self.space else {
                    var image = RegisterImage(ordered: ordered)
                    image.insert(block)
                    outside = image
                    ordered = []
                    return
                }
                values = [UInt16](repeating: 0, count: Self.space)
                present = [Bool](repeating: false, count: Self.space)
                isFlat = true
                let earlier = ordered
                ordered = []
                for b in earlier { write(b) }
            }
            guard block.start >= 0, block.end <= Self.space else {
                var image = self.image
                image.insert(block)
                outside = image
                return
            }
            write(block)
        }

        private mutating func write(_ block: Block) {
            values.replaceSubrange(block.start..<block.end, with: block.registers)
            present.withUnsafeMutableBufferPointer { p in
                for a in block.start..<block.end { p[a] = true }
            }
            low = min(low, block.start)
            high = max(high, block.end)
        }

        /// The image of what was given.
        public var image: RegisterImage {
            if let outside { return outside }
            guard isFlat else { return RegisterImage(ordered: ordered) }
            var runs: [Block] = []
            var a = low
            while a < high {
                while a < high && !present[a] { a += 1 }
                let start = a
                while a < high && present[a] { a += 1 }
                if a > start { runs.append(Block(start: start, registers: Array(values[start..<a]))) }
            }
            return RegisterImage(ordered: runs)
        }
    }
}
