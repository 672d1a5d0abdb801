import Foundation
import Synchronization
import Testing

/// A plain Unix-socket subscriber for tests: connects, reads NDJSON lines. Its waits run on a
/// thread of their own, never on Swift's cooperative pool (which the gateway under test needs).
final class StreamClient: Sendable {
    private let fd: Int32
    /// Bytes read past the last line returned.
    private let pending = Mutex<[UInt8]>([])

    init?(path: String) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 {
            // Failing before `self.fd` is set: deinit does not run, so this is the only close.
            close(fd)
            return nil
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Writes text to the socket (requests of the control socket).
    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else {
                Issue.record("socket write failed: errno \(errno)")
                return
            }
            sent += n
        }
    }

    /// The next line, or nil at end of stream or after `timeout`.
    func line(timeout: Duration = .seconds(5)) async -> String? {
        await offPool { self.blockingLine(timeout: timeout) }
    }

    private func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }

    private func blockingLine(timeout: Duration) -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let line: String? = pending.withLock { pending in
                guard let nl = pending.firstIndex(of: 0x0A) else { return nil }
                defer { pending.removeSubrange(...nl) }
                return String(decoding: pending[..<nl], as: UTF8.self)
            }
            if let line { return line }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return nil }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ms = Int32(max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            guard poll(&p, 1, ms) > 0 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return nil }
            pending.withLock { $0 += buffer[0..<n] }
        }
    }

    /// Lines until one matches, or nil.
    func line(where predicate: (String) -> Bool, timeout: Duration = .seconds(10)) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let l = await line(timeout: deadline - ContinuousClock.now) else { return nil }
            if predicate(l) { return l }
        }
        return nil
    }

    /// Whether the server closed the connection (within `timeout`), reading and dropping what is left.
    func closed(timeout: Duration = .seconds(5)) async -> Bool {
        await offPool { self.blockingClosed(timeout: timeout) }
    }

    private func blockingClosed(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) >= 0 else { return true }
            if p.revents != 0 {
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { return true }
            }
        }
        return false
    }
}

/// Parses a JSON line.
func json(_ line: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
}

/// A fresh socket path in a new temporary folder.
func temporarySocketPath() -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ssgw-test-\(UUID().uuidString.prefix(8))")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder.appendingPathComponent("s.sock").path
}
