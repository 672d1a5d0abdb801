import Foundation
import Modbus
import SunSpec

/// A model's place on a device's SunSpec chain.
public struct ModelHeader: Sendable, Hashable {
    /// The model id.
    public let id: Int
    /// 0-based address of the ID register.
    public let address: Int
    /// L, the registers after the L register.
    public let length: Int

    /// Creates a header.
    public init(id: Int, address: Int, length: Int) {
        self.id = id
        self.address = address
        self.length = length
    }

    /// Registers from the ID register to the last one of the model.
    public var span: Range<Int> { address..<(address + 2 + length) }
}

/// What discovery found on a device.
public struct DiscoveredMap: Sendable {
    /// Address of the `SunS` marker.
    public let base: Int
    /// The models on the chain, in order.
    public let models: [ModelHeader]
    /// Every register read.
    public let image: RegisterImage
    /// Whether the chain ended with the 0xFFFF end marker.
    public let endMarker: Bool
    /// Modbus transactions used.
    public let transactions: Int
    /// The most registers the device accepted in one read (lowered when it refused larger reads).
    public let maxRegisters: Int
    /// What did not go by the book (no end marker, refused registers).
    public let notes: [String]
    /// When each read's registers arrived, in order.
    public let arrivals: [(range: Range<Int>, at: Date)]

    /// Registers inside the models the device refused (the holes polls must not ask for).
    public var holes: Holes { Holes(missingFrom: image, in: models.map(\.span)) }

    /// When the last of the registers of `span` arrived (nil if none was read).
    public func arrival(of span: Range<Int>) -> Date? {
        arrivals.last { $0.range.overlaps(span) }?.at
    }
}

/// Why discovery failed.
public struct DiscoveryError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let message: String
    /// The Modbus error behind it, if any.
    public let cause: ModbusError?
    public var description: String { message }
}

/// Finds a device's SunSpec map with as few transactions as the map allows.
///
/// Reads are of up to `maxRegisters` (125) registers, and each starts at the first register not yet
/// read, so the chain is walked out of what was already read: a map of N registers takes
/// ceil(N/125) reads, plus one when the last read-ahead runs past the end of a short map (many
/// devices answer exception 2 there: the read is retried to fit), plus one per base tried before
/// the right one. Registers a device refuses inside a model are narrowed down and left as holes.
public struct Discovery: Sendable {
    /// Bases tried in order when none is configured: the standard three, then the one-off ones.
    public static let bases = [40000, 0, 50000, 40001, 1, 50001]

    let reader: any RegisterReader
    let unit: Int
    let kind: RegisterKind
    let maxRegisters: Int
    let timeout: Duration?
    /// Waits before the retries of a read the device answers busy (exception 6) or acknowledge (5).
    let busyRetries: [Duration]
    /// What busy waits are timed on, and read times stamped with.
    let clocks: Clocks

    /// Creates a discovery over a reader.
    public init(
        reader: any RegisterReader, unit: Int, kind: RegisterKind = .holding, maxRegisters: Int = 125, timeout: Duration? = nil,
        busyRetries: [Duration] = Discovery.busyRetries, clocks: Clocks = .real
    ) {
        self.clocks = clocks
        self.reader = reader
        self.unit = unit
        self.kind = kind
        self.maxRegisters = max(2, min(125, maxRegisters))
        self.timeout = timeout
        self.busyRetries = busyRetries
    }

    /// A busy device is asked again after 0.1 s, 0.2 s, 0.4 s, then every 0.5 s for 30 s in all; then
    /// discovery fails and is tried again with the device's backoff. Busy is never a hole nor the end
    /// of the chain.
    public static let busyRetries: [Duration] =
        [.milliseconds(100), .milliseconds(200), .milliseconds(400)] + Array(repeating: .milliseconds(500), count: 59)

    /// Finds the map at `base`, or at the usual bases.
    public func run(base: Int? = nil) async throws(DiscoveryError) -> DiscoveredMap {
        var walk = Walk(discovery: self)
        return try await walk.run(base: base)
    }
}

private struct Walk {
    let discovery: Discovery
    var image = RegisterImage()
    var transactions = 0
    var notes: [String] = []
    var arrivals: [(range: Range<Int>, at: Date)] = []
    /// Budget of reads spent narrowing refused registers down, per model.
    var narrowBudget = 0
    /// Set once a read-ahead ran past the end of the map: from then on, only what is needed is read.
    var shortMap = false
    /// Most registers per read: halved when the device answers exception 3 (a read too large).
    var limit: Int

    init(discovery: Discovery) {
        self.discovery = discovery
        self.limit = discovery.maxRegisters
    }

    mutating func run(base: Int?) async throws(DiscoveryError) -> DiscoveredMap {
        let base = try await findBase(base)
        var models: [ModelHeader] = []
        var address = base + 2
        var endMarker = false
        chain: while true {
            guard address + 1 <= 65535 else {
                notes.append("the chain runs past register 65535 without an end marker")
                break
            }
            if image.value(at: address) == nil || image.value(at: address + 1) == nil {
                let limit = 65536 - address
                do {
                    try await fetch(address, ahead: min(discovery.maxRegisters, limit), needed: 2)
                } catch {
                    guard Self.isRefusal(error) else {
                        throw DiscoveryError(message: "reading the model header at \(address): \(error)", cause: error)
                    }
                    notes.append("no end marker: nothing readable at \(address) after the last model")
                    break
                }
            }
            guard let id = image.value(at: address), let length = image.value(at: address + 1) else { break }
            if id == 0xFFFF {
                endMarker = true
                break
            }
            let header = ModelHeader(id: Int(id), address: address, length: Int(length))
            let end = min(header.span.upperBound, 65536)
            // The model, and the next header with it when the device has one.
            narrowBudget = 256
            let stop = min(end + 2, 65536)
            var cursor = firstMissing(address + 2, stop)
            while let from = cursor {
                let ahead = min(discovery.maxRegisters, 65536 - from)
                let needed = min(discovery.maxRegisters, stop - from)
                do {
                    try await fetch(from, ahead: ahead, needed: needed)
                    cursor = firstMissing(from, stop)
                } catch {
                    guard Self.isRefusal(error) else {
                        throw DiscoveryError(message: "reading model \(header.id) at \(header.address): \(error)", cause: error)
                    }
                    if from >= end {
                        // Only the next header is missing: the chain ends here, without an end marker.
                        models.append(header)
                        notes.append("no end marker after model \(header.id) at \(header.address)")
                        break chain
                    }
                    // Part of the model is refused: read what the device gives, ranges narrowed down;
                    // what stays refused is a hole, and the walk goes on after it.
                    let count = min(end - from, discovery.maxRegisters)
                    do {
                        try await readNarrowing(from, count)
                    } catch {
                        throw DiscoveryError(message: "reading model \(header.id) at \(header.address): \(error)", cause: error)
                    }
                    cursor = firstMissing(from + count, stop)
                }
            }
            models.append(header)
            if header.span.upperBound > 65536 {
                notes.append("model \(header.id) at \(header.address) runs past register 65535")
                break
            }
            address = end
        }
        let refused = models.reduce(0) { sum, m in
            sum + m.span.filter { image.value(at: $0) == nil }.count
        }
        if refused > 0 { notes.append("\(refused) registers inside models were refused by the device") }
        return DiscoveredMap(
            base: base, models: models, image: image, endMarker: endMarker, transactions: transactions, maxRegisters: limit, notes: notes,
            arrivals: arrivals)
    }

    /// A refusal of the registers asked for (exception 2, or 3 at one register): a hole, or the end of
    /// the map. Busy was retried already; anything else (no answer, a device failure, a gateway
    /// without its target) fails the discovery, to be tried again.
    static func isRefusal(_ error: ModbusError) -> Bool {
        error.isException(2) || error.isException(3)
    }

    /// Probes the bases with full reads (the first read of the map then comes with the marker). A
    /// refused full read may be a map shorter than one read: the first base is retried at once with
    /// four registers (the marker and the first model's header), the others after every base was tried.
    private mutating func findBase(_ configured: Int?) async throws(DiscoveryError) -> Int {
        var tried: [Int: String] = [:]
        let candidates = configured.map { [$0] } ?? Discovery.bases
        func probe(_ base: Int, _ size: Int) async throws(DiscoveryError) -> Bool {
            do {
                _ = try await read(base, min(size, 65536 - base))
            } catch {
                guard case .exception(let code) = error.kind, code != 0x0A, code != 0x0B else {
                    // No answer, or a gateway saying the unit is not there: no base will do better.
                    throw DiscoveryError(message: "unit \(discovery.unit): \(error)", cause: error)
                }
                tried[base] = "exception \(code)"
                return false
            }
            guard image.value(at: base) == 0x5375 && image.value(at: base + 1) == 0x6E53 else {
                tried[base] = "no SunS"
                return false
            }
            return true
        }
        for (i, base) in candidates.enumerated() {
            if try await probe(base, discovery.maxRegisters) { return base }
            if i == 0, tried[base] != "no SunS", try await probe(base, 4) {
                shortMap = true
                return base
            }
        }
        for base in candidates.dropFirst() where tried[base] != "no SunS" {
            if try await probe(base, 4) {
                shortMap = true
                return base
            }
        }
        let summary = candidates.map { "\($0): \(tried[$0] ?? "?")" }.joined(separator: "; ")
        throw DiscoveryError(message: "unit \(discovery.unit): no SunSpec map (\(summary))", cause: nil)
    }

    /// Reads `ahead` registers from `from`; if the device refuses (exception 2 or 3, typically past
    /// the end of a short map) and fewer are `needed`, reads just those.
    @discardableResult
    private mutating func fetch(_ from: Int, ahead: Int, needed: Int) async throws(ModbusError) -> [UInt16] {
        if shortMap { return try await read(from, needed) }
        do {
            return try await read(from, ahead)
        } catch {
            guard ahead > needed, error.isException(2) || error.isException(3) else { throw error }
            shortMap = true
            return try await read(from, needed)
        }
    }

    /// Reads up to `count` registers (fewer when the device takes less in one read). A busy device
    /// (exception 6, or 5) is asked again after the waits of `busyRetries`.
    private mutating func read(_ from: Int, _ count: Int) async throws(ModbusError) -> [UInt16] {
        var busy = discovery.busyRetries[...]
        while true {
            let n = min(count, limit)
            transactions += 1
            do {
                let registers = try await discovery.reader.read(
                    unit: discovery.unit, address: from, count: n, kind: discovery.kind, timeout: discovery.timeout)
                image.insert(.init(start: from, registers: registers))
                arrivals.append((from..<(from + n), discovery.clocks.wall()))
                return registers
            } catch {
                if error.isException(6) || error.isException(5), let wait = busy.popFirst() {
                    do { try await discovery.clocks.sleep(for: wait) } catch {
                        throw ModbusError(.cancelled, operation: "discovery", unit: discovery.unit, address: from)
                    }
                    continue
                }
                // Exception 3 (illegal data value) is how devices refuse a read of too many registers.
                guard error.isException(3), n > 1 else { throw error }
                limit = n / 2
            }
        }
    }

    /// Reads a range the device refused as a whole in halves, down to single registers; what is
    /// still refused stays a hole. Anything but a refusal is thrown.
    private mutating func readNarrowing(_ from: Int, _ count: Int) async throws(ModbusError) {
        guard count > 0, narrowBudget > 0 else { return }
        narrowBudget -= 1
        do {
            _ = try await read(from, count)
            return
        } catch {
            guard Self.isRefusal(error) else { throw error }
        }
        guard count > 1 else { return }
        let half = count / 2
        try await readNarrowing(from, half)
        try await readNarrowing(from + half, count - half)
    }

    /// The first register in `from..<to` not read yet.
    private func firstMissing(_ from: Int, _ to: Int) -> Int? {
        (from..<max(from, to)).first { image.value(at: $0) == nil }
    }
}
