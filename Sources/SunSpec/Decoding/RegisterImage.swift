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

    /// An image of these blocks; where blocks overlap, the later one wins.
    public init(blocks: [Block] = []) {
        self.blocks = []
        for block in blocks { insert(block) }
    }

    /// Adds registers, replacing any already present at the same addresses.
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
        // General case: keep the parts of existing blocks the new one does not cover, then coalesce.
        var parts: [Block] = []
        for b in blocks {
            if b.end <= block.start || b.start >= block.end {
                parts.append(b)
                continue
            }
            if b.start < block.start {
                parts.append(Block(start: b.start, registers: Array(b.registers[..<(block.start - b.start)])))
            }
            if b.end > block.end {
                parts.append(Block(start: block.end, registers: Array(b.registers[(block.end - b.start)...])))
            }
        }
        parts.append(block)
        parts.sort { $0.start < $1.start }
        var merged: [Block] = []
        for part in parts {
            if let last = merged.last, last.end == part.start {
                merged[merged.count - 1].registers.append(contentsOf: part.registers)
            } else {
                merged.append(part)
            }
        }
        blocks = merged
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
