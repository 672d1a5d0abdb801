import Captures
import Foundation
import Gateway
import Modbus
import SunSpec
import Synchronization
import Testing

let fixturesURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The register image of a fixture capture.
func fixtureImage(_ name: String) throws -> RegisterImage {
    let bytes = [UInt8](try Data(contentsOf: fixturesURL.appendingPathComponent(name)))
    var image: RegisterImage?
    _ = CaptureReader.read(bytes, name: name) { image = $0.image }
    return try #require(image)
}

/// Counts the transactions made through a reader, and can refuse reads larger than a limit.
final class CountingReader: RegisterReader, Sendable {
    let inner: any RegisterReader
    let refuseAbove: Int?
    private let count = Atomic<Int>(0)
    private let log = Mutex<[String]>([])
    var transactions: Int { count.load(ordering: .relaxed) }
    /// Every read, `start+count` and its outcome.
    var reads: [String] { log.withLock { $0 } }

    init(_ inner: any RegisterReader, refuseAbove: Int? = nil) {
        self.inner = inner
        self.refuseAbove = refuseAbove
    }

    func read(unit: Int, address: Int, count n: Int, kind: RegisterKind, timeout: Duration?) async throws(ModbusError) -> [UInt16] {
        count.add(1, ordering: .relaxed)
        if let limit = refuseAbove, n > limit {
            log.withLock { $0.append("\(address)+\(n) refused") }
            throw ModbusError(.exception(3), operation: "read", unit: unit, address: address)
        }
        do {
            let r = try await inner.read(unit: unit, address: address, count: n, kind: kind, timeout: timeout)
            log.withLock { $0.append("\(address)+\(n)") }
            return r
        } catch {
            log.withLock { $0.append("\(address)+\(n) \(error.kind)") }
            throw error
        }
    }
}
