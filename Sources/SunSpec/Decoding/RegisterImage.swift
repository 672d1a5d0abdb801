/// A sparse image of a device's registers, by 0-based protocol address, as captured or read.
public struct RegisterImage: Sendable, Equatable {
    /// A contiguous run of captured registers.
    public struct Block: Sendable, Equatable {
        /// Address of the first register.
        public var start: Int
        /// The register values.
        public var registers: [UInt16]
        /// Address one past the last register.
        public var end: Int { start + registers.count }
        /// Creates a block.
        public init(start: Int, registers: [UInt16]) {
            self.start = start
            self.registers = registers
        }
    }

    /// Non-overlapping, non-adjacent blocks in address order.
    public private(set) var blocks: [Block]

    /// An image of these blocks; where blocks overlap, the later one wins. Near-linear in the
    /// registers given, in any order (see `Builder`).
    public init(blocks: [Block] = []) {
        guard !blocks.isEmpty else {
            self.blocks = []
            return
        }
        var builder = Builder()
        for block in blocks { builder.insert(block) }
        self = builder.image
    }

    /// An image of blocks already in address order, non-overlapping and non-adjacent.
    init(ordered: [Block]) {
        self.blocks = ordered
    }

    /// Adds registers, replacing any already present at the same addresses: a binary search, then
    /// work on the blocks it touches or adjoins (and the shift of the array's tail).
    public mutating func insert(_ block: Block) {
        guard !block.registers.isEmpty else { return }
        if let last = blocks.last, last.end <= block.start {
            if last.end == block.start {
                blocks[blocks.count - 1].registers.append(contentsOf: block.registers)
            } else {
                blocks.append(block)
            }
            return
        }
        // Inside one block: overwrite in place.
        if let b = blockIndex(containing: block.start), blocks[b].end >= block.end {
            let from = block.start - blocks[b].start
            blocks[b].registers.replaceSubrange(from..<(from + block.registers.count), with: block.registers)
            return
        }
        // Blocks first..<past overlap or adjoin the new one: they become one block.
        let first = firstIndex { $0.end >= block.start }
        var past = first
        while past < blocks.count && blocks[past].start <= block.end { past += 1 }
        guard first < past else {
            blocks.insert(block, at: first)
            return
        }
        var merged: [UInt16] = []
        let head = blocks[first]
        let tail = blocks[past - 1]
        if head.start < block.start { merged += head.registers[..<(block.start - head.start)] }
        merged += block.registers
        if tail.end > block.end { merged += tail.registers[(block.end - tail.start)...] }
        blocks.replaceSubrange(first..<past, with: CollectionOfOne(Block(start: min(head.start, block.start), registers: merged)))
    }

    /// Forgets the registers of `range` (a device that now refuses them: they are no longer its values).
    public mutating func remove(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        var kept: [Block] = []
        kept.reserveCapacity(blocks.count + 1)
        for b in blocks {
            if b.end <= range.lowerBound || b.start >= range.upperBound {
                kept.append(b)
                continue
            }
            if b.start < range.lowerBound {
                kept.append(Block(start: b.start, registers: Array(b.registers[..<(range.lowerBound - b.start)])))
            }
            if b.end > range.upperBound {
                kept.append(Block(start: range.upperBound, registers: Array(b.registers[(range.upperBound - b.start)...])))
            }
        }
        blocks = kept
    }

    /// Number of captured registers.
    public var registerCount: Int { blocks.reduce(0) { $0 + $1.registers.count } }

    /// The register at an address, or nil when it was not captured.
    public func value(at address: Int) -> UInt16? {
        guard let b = blockIndex(containing: address) else { return nil }
        return blocks[b].registers[address - blocks[b].start]
    }

    /// `count` registers from `start`, with the ones not captured flagged.
    public func window(start: Int, count: Int) -> RegisterWindow {
        guard count > 0 else { return RegisterWindow([]) }
        if let b = blockIndex(containing: start), blocks[b].end >= start + count {
            let from = start - blocks[b].start
            return RegisterWindow(blocks[b].registers[from..<(from + count)])
        }
        var values = [UInt16](repeating: 0, count: count)
        var missing = [Bool](repeating: true, count: count)
        for block in blocks where block.end > start && block.start < start + count {
            let lo = max(block.start, start), hi = min(block.end, start + count)
            for a in lo..<hi {
                values[a - start] = block.registers[a - block.start]
                missing[a - start] = false
            }
        }
        return RegisterWindow(values: values, missing: missing)
    }

    /// The first block index where `isAtOrAfter` holds (blocks are in address order), or `blocks.count`.
    private func firstIndex(_ isAtOrAfter: (Block) -> Bool) -> Int {
        var lo = 0, hi = blocks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if isAtOrAfter(blocks[mid]) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    private func blockIndex(containing address: Int) -> Int? {
        var lo = 0, hi = blocks.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if address < blocks[mid].start {
                hi = mid - 1
            } else if address >= blocks[mid].end {
                lo = mid + 1
            } else {
                return mid
            }
        }
        return nil
    }
}
