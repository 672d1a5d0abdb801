import Foundation
import Gateway
import NIOCore
import Synchronization

/// A subscriber of the hub itself, for tests that wait on records without blocking a thread of
/// Swift's cooperative pool (a socket read would).
final class Recorder: Subscriber, Sendable {
    private struct State {
        var lines: [String] = []
        var cursor = 0
        var partial: [UInt8] = []
    }
    private let state = Mutex(State())

    func send(_ buffer: ByteBuffer) {
        state.withLock { s in
            s.partial += buffer.readableBytesView
            while let nl = s.partial.firstIndex(of: 0x0A) {
                s.lines.append(String(decoding: s.partial[..<nl], as: UTF8.self))
                s.partial.removeSubrange(...nl)
            }
        }
    }

    func sendSnapshot(_ buffer: ByteBuffer) { send(buffer) }

    func finish() {}

    /// The next record matching `predicate`, waiting up to `timeout` (checked every 2 ms).
    func line(where predicate: (String) -> Bool = { _ in true }, timeout: Duration = .seconds(10)) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let found: String? = state.withLock { s in
                while s.cursor < s.lines.count {
                    let line = s.lines[s.cursor]
                    s.cursor += 1
                    if predicate(line) { return line }
                }
                return nil
            }
            if let found { return found }
            if ContinuousClock.now >= deadline { return nil }
            do { try await Task.sleep(for: .milliseconds(2)) } catch { return nil }
        }
    }
}
