import Foundation
import Gateway
import NIOCore
import Synchronization

/// A subscriber of the hub itself, for tests that wait on records: a waiting test is resumed by
/// the record it waits for, not by polling, and no thread of Swift's cooperative pool blocks.
final class Recorder: Subscriber, Sendable {
    private struct State {
        var lines: [String] = []
        var cursor = 0
        var partial: [UInt8] = []
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    func send(_ buffer: ByteBuffer) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.partial += buffer.readableBytesView
            var added = false
            while let nl = s.partial.firstIndex(of: 0x0A) {
                s.lines.append(String(decoding: s.partial[..<nl], as: UTF8.self))
                s.partial.removeSubrange(...nl)
                added = true
            }
            guard added else { return nil }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    func sendSnapshot(_ parts: [ByteBuffer]) {
        for part in parts { send(part) }
    }

    func finish() {}

    /// The next record matching `predicate`; nil if none came within `timeout` (a guard against a
    /// hang: the wait ends as soon as the record arrives).
    func line(where predicate: @escaping @Sendable (String) -> Bool = { _ in true }, timeout: Duration = .seconds(10)) async -> String? {
        await withTaskGroup(of: String?.self) { group in
            group.addTask { await self.next(where: predicate) }
            group.addTask {
                do { try await Task.sleep(for: timeout) } catch {}
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Every record seen so far (from the start).
    var lines: [String] { state.withLock { $0.lines } }

    private func next(where predicate: (String) -> Bool) async -> String? {
        while !Task.isCancelled {
            let found: String? = state.withLock { s in
                while s.cursor < s.lines.count {
                    let line = s.lines[s.cursor]
                    s.cursor += 1
                    if predicate(line) { return line }
                }
                return nil
            }
            if let found { return found }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let ready = state.withLock { s -> Bool in
                        if s.cursor < s.lines.count || Task.isCancelled { return true }
                        s.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                    defer { s.waiter = nil }
                    return s.waiter
                }
                waiter?.resume()
            }
        }
        return nil
    }
}
