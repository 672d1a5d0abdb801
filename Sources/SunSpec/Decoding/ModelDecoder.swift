/// Decodes the registers of one model instance against its definition.
///
/// The model length L rules over the definition: points past L are null, repeating groups get only
/// the repeats that both their count and L allow, and registers past the definition are ignored.
/// Where L decides how many repeats there are (a `count: 0` group, or a count point L cuts short),
/// the registers L leaves must be a whole number of repeats; otherwise the repeat layout would be a
/// guess, so no repeat is decoded, and nothing laid out after them either (those points are null).
/// Every such disagreement adds a message to the model's errors.
public enum ModelDecoder {
    /// Decodes a model whose ID register is `window.values[0]`; `length` is L, and the window
    /// should hold `length + 2` registers (fewer are treated as not captured).
    public static func decode(_ definition: ModelDefinition, window: RegisterWindow, length: Int) -> DecodedModel {
        window.values.withUnsafeBufferPointer { regs in
            var context = ModelDecoding(registers: regs, missing: window.missing, length: length)
            var offset = 0
            context.points.reserveCapacity(definition.group.slots.count * 2)
            let values = context.decodeGroup(definition.group, offset: &offset, atEnd: true)
            if context.truncated {
                context.errors.append(
                    "L=\(length) is shorter than the \(offset - 2) registers the definition lays out; points past it are null")
            } else if !context.lost && offset < length + 2 {
                context.errors.append(
                    "L=\(length) is longer than the \(offset - 2) registers the definition lays out; the \(length + 2 - offset) after them are ignored"
                )
            }
            if context.missingPoints > 0 {
                context.errors.insert(
                    "\(window.missingCount) registers were not captured; \(context.missingPoints) points that use them are null", at: 0)
            }
            return DecodedModel(
                id: definition.id, definition: definition, length: length, values: values, stored: context.points,
                registers: window.values, raw: nil, errors: context.errors)
        }
    }

    /// A model with no definition: its registers after L, raw.
    public static func undefined(id: Int, window: RegisterWindow, length: Int) -> DecodedModel {
        var raw: [UInt16?] = []
        raw.reserveCapacity(length)
        var errors: [String] = []
        for i in 2..<(length + 2) {
            if i < window.count, window.missing?[i] != true {
                raw.append(window.register(i))
            } else {
                raw.append(nil)
            }
        }
        let missing = raw.lazy.filter { $0 == nil }.count
        if missing > 0 { errors.append("\(missing) registers were not captured") }
        return DecodedModel(
            id: id, definition: nil, length: length, values: nil, stored: [], registers: window.values, raw: raw, errors: errors)
    }
}

// MARK: - Decoding state

/// Where each enclosing group instance starts, outermost first: a fixed-size stack (SunSpec nests
/// groups three deep at most; deeper ones are not decoded), so decoding allocates nothing for it.
struct InstanceStarts {
    static let capacity = 8
    private var storage: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    private(set) var count = 0

    mutating func append(_ start: Int) {
        withUnsafeMutableBytes(of: &storage) {
            $0.storeBytes(of: start, toByteOffset: min(count, 7) * MemoryLayout<Int>.stride, as: Int.self)
        }
        count += 1
    }

    mutating func removeLast() { count -= 1 }

    subscript(_ i: Int) -> Int {
        withUnsafeBytes(of: storage) { $0.load(fromByteOffset: min(i, 7) * MemoryLayout<Int>.stride, as: Int.self) }
    }
}

/// One pass over a model's registers. Scale factors and count points are read straight from the
/// registers of the group instance that holds them (`starts` keeps where each enclosing instance
/// begins), so a value is decoded and scaled in one step.
struct ModelDecoding {
    let registers: UnsafeBufferPointer<UInt16>
    let missing: [Bool]?
    /// L + 2: the model's registers, ID and L included.
    let limit: Int
    /// The registers that may be read: within L and within the window.
    let end: Int
    var starts = InstanceStarts()
    var points: [StoredValue] = []
    var errors: [String] = []
    var truncated = false
    var missingPoints = 0
    /// Set once a group's repeats could not be placed: everything laid out after them would be a
    /// guess, so their points are null and their repeats left out.
    var lost = false

    init(registers: UnsafeBufferPointer<UInt16>, missing: [Bool]?, length: Int) {
        self.registers = registers
        self.missing = missing
        self.limit = length + 2
        self.end = min(length + 2, registers.count)
    }

    /// Decodes one instance of `group` at `offset`, advancing it past the instance. `atEnd`: nothing
    /// of the model is laid out after this instance (so a `count: 0` group last in it may fill L).
    mutating func decodeGroup(_ group: GroupDefinition, offset: inout Int, atEnd: Bool) -> GroupValues {
        let start = offset
        starts.append(start)
        defer { starts.removeLast() }
        let first = points.count
        group.slots.withUnsafeBufferPointer { slots in
            for i in 0..<slots.count {
                points.append(value(slots[i], at: start + slots[i].offset))
            }
        }
        offset = start + group.pointsLength
        if group.groups.isEmpty { return GroupValues(first: first, groups: []) }
        var groups: [[GroupValues]] = []
        groups.reserveCapacity(group.groups.count)
        let last = group.groups.count - 1
        for g in group.groups.indices {
            groups.append(decodeRepeats(group.groups[g], offset: &offset, atEnd: atEnd && g == last))
        }
        return GroupValues(first: first, groups: groups)
    }

    @inline(__always)
    private mutating func value(_ slot: PointSlot, at: Int) -> StoredValue {
        if lost { return .null }
        if at + slot.size > end {
            truncated = true
            return .null
        }
        if let missing, isMissing(missing, at, slot.size) {
            if slot.isPublished { missingPoints += 1 }
            return .null
        }
        let raw = PointDecoding.stored(slot.type, registers, at, slot.size)
        switch slot.scale {
        case .none:
            return slot.adjust == 0 ? raw : Self.scale(raw, slot.adjust)
        case .constant(let n):
            return Self.scale(raw, n + slot.adjust)
        case .point(let levelsUp, let offset):
            guard let e = scaleFactor(levelsUp: levelsUp, offset: offset) else { return .null }
            return Self.scale(raw, e + slot.adjust)
        case .unresolved:
            return .null
        }
    }

    private func isMissing(_ missing: [Bool], _ at: Int, _ size: Int) -> Bool {
        for i in at..<(at + size) where missing[i] { return true }
        return false
    }

    /// The exponent of a sunssf point, or nil when it is not implemented, not captured, or outside -10...10.
    @inline(__always)
    private func scaleFactor(levelsUp: Int, offset: Int) -> Int? {
        let at = starts[starts.count - 1 - levelsUp] + offset
        guard at < end, missing?[at] != true else { return nil }
        let e = Int16(bitPattern: registers[at])
        guard e >= -10 && e <= 10 else { return nil }
        return Int(e)
    }

    /// The value of a count point, read from the enclosing instance `levelsUp` groups out of `group`'s parent.
    private func countValue(_ ref: PointReference, fromParentOf depth: Int) -> Int? {
        let index = depth - ref.levelsUp
        guard index >= 0 else { return nil }
        let at = starts[index] + ref.offset
        guard at < end, missing?[at] != true else { return nil }
        let v = PointDecoding.stored(ref.type, registers, at, 1)
        guard let n = v.intValue, n >= 0 else { return nil }
        return Int(min(n, 65535))
    }

    private mutating func decodeRepeats(_ group: GroupDefinition, offset: inout Int, atEnd: Bool) -> [GroupValues] {
        guard let count = group.count else {
            return [decodeGroup(group, offset: &offset, atEnd: atEnd)]
        }
        if lost { return [] }
        let wanted: Int?
        switch count {
        case .fixed(let n):
            wanted = n
        case .fromLength:
            guard atEnd else {
                return giveUp(
                    "group '\(group.name)': its repeats fill L (count 0) but more of the model is laid out after them; no repeats decoded")
            }
            wanted = nil
        case .point(let name):
            guard let n = countValue(group.countReference!, fromParentOf: starts.count) else {
                return giveUp("group '\(group.name)': count point \(name) is not implemented; no repeats decoded")
            }
            wanted = n
        }
        // Walk the repeats up to L: each one's size, nested counts included, read where it starts.
        var placed = 0
        var at = offset
        var size: Int?  // the size of every repeat walked, while they are all the same
        var uniform = true
        while wanted.map({ placed < $0 }) ?? (at < limit) {
            guard let one = instanceSize(group, at: at) else {
                return giveUp(
                    "group '\(group.name)': the size of repeat \(placed + 1) cannot be worked out (a count in it is not implemented or fills L); no repeats decoded"
                )
            }
            if wanted == nil && one == 0 {
                return giveUp("group '\(group.name)': its repeats have no registers, so they cannot fill L; no repeats decoded")
            }
            if size == nil { size = one } else if size != one { uniform = false }
            if at + one > limit { break }
            at += one
            placed += 1
        }
        let room = limit - offset
        let whole = at >= limit  // the repeats walked end at L, or L left no room at all
        if let wanted, placed < wanted {
            guard whole else {
                return giveUp("group '\(group.name)': count is \(wanted) but \(misfit(room, placed, limit - at, uniform ? size : nil))")
            }
            errors.append("group '\(group.name)': count is \(wanted) but L leaves room for \(placed); decoded \(placed)")
        } else if wanted == nil && !whole {
            return giveUp("group '\(group.name)': \(misfit(room, placed, limit - at, uniform ? size : nil))")
        }
        var out: [GroupValues] = []
        out.reserveCapacity(placed)
        for _ in 0..<placed {
            out.append(decodeGroup(group, offset: &offset, atEnd: false))
        }
        return out
    }

    /// Why the repeats do not fit the registers L leaves for them.
    private func misfit(_ room: Int, _ placed: Int, _ over: Int, _ size: Int?) -> String {
        let repeats = size.map { "\($0)-register repeats" } ?? "its repeats"
        return "the \(room) registers L=\(limit - 2) leaves for it are not a whole number of \(repeats) "
            + "(\(placed) and \(over) left over); no repeats decoded"
    }

    /// Notes why a group's repeats are left out; what follows them cannot be placed either.
    private mutating func giveUp(_ message: String) -> [GroupValues] {
        errors.append(message)
        lost = true
        return []
    }

    /// Registers of the instance of `group` that would start at `start`, nested groups included
    /// (their counts read from this instance and the enclosing ones); nil when that cannot be
    /// worked out: a count point not implemented or not captured, or a nested `count: 0` group.
    /// Stops adding once past L: the caller only compares the size with what L leaves.
    private mutating func instanceSize(_ group: GroupDefinition, at start: Int) -> Int? {
        var size = group.pointsLength
        if group.groups.isEmpty { return size }
        starts.append(start)
        defer { starts.removeLast() }
        for sub in group.groups {
            let n: Int
            switch sub.count {
            case nil: n = 1
            case .fixed(let k): n = k
            case .fromLength: return nil
            case .point:
                guard let k = countValue(sub.countReference!, fromParentOf: starts.count) else { return nil }
                n = k
            }
            if sub.groups.isEmpty {
                size += n * sub.pointsLength
            } else {
                for _ in 0..<n {
                    guard let one = instanceSize(sub, at: start + size) else { return nil }
                    size += one
                    // A repeat of no registers reads the same counts again: the others are empty too.
                    if one == 0 || start + size > limit { break }
                }
            }
            if start + size > limit { return size }
        }
        return size
    }

    static func scale(_ value: StoredValue, _ exponent: Int) -> StoredValue {
        switch value {
        case .int(let raw): return .decimal(ExactDecimal(raw, exponent: exponent))
        case .uint(let raw): return .decimal(ExactDecimal(unsigned: raw, exponent: exponent))
        case .float32(let f): return exponent == 0 ? value : .float64(Double(f) * pow10(exponent))
        case .float64(let d): return exponent == 0 ? value : .float64(d * pow10(exponent))
        default: return value
        }
    }

    static func pow10(_ e: Int) -> Double {
        var v = 1.0
        for _ in 0..<abs(e) { v *= 10 }
        return e < 0 ? 1 / v : v
    }
}
