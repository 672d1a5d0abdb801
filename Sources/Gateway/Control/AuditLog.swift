import Foundation
import Logging
import Synchronization

/// The append-only audit of control requests: NDJSON, a write's intent line before it goes to the
/// device and every request's outcome line, each written with one `write(2)` on a file opened with
/// `O_APPEND` (created with mode 0640), so a line is out of the process before the write it announces
/// and before the request is answered. A file that cannot be opened is opened again for the
/// next request; after a line could not be written, requests are refused (`precondition`) before
/// anything goes to a device until a line (a refusal's) is written again.
public final class AuditLog: Sendable {
    /// The file.
    public let path: String
    private let descriptor = Mutex<Int32?>(nil)
    /// The last line could not be written: not writable until one is.
    private let failed = Atomic<Bool>(false)
    private let logger: Logger

    /// An audit at `path` (opened on first use).
    public init(path: String, logger: Logger) {
        self.path = path
        self.logger = logger
    }

    deinit {
        if let fd = descriptor.withLock({ $0 }) { close(fd) }
    }

    /// Whether a line can be written now: the last one was (or none was tried), and the file is
    /// open, or opens.
    public func isWritable() -> Bool {
        guard !failed.load(ordering: .acquiring) else { return false }
        return descriptor.withLock { fd in
            if fd == nil { fd = open() }
            return fd != nil
        }
    }

    /// Appends one line (it ends with a newline); false, logged, when it could not be written whole.
    @discardableResult
    public func append(_ line: [UInt8]) -> Bool {
        descriptor.withLock { fd in
            if fd == nil { fd = open() }
            guard let open = fd else { return false }
            var written = 0
            while written < line.count {
                let n = line[written...].withUnsafeBytes { Glibc.write(open, $0.baseAddress, $0.count) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else {
                    let why = String(cString: strerror(errno))
                    logger.error(
                        "audit line not written: control requests are refused until it can be",
                        metadata: ["audit": "\(path)", "error": "\(why)"])
                    close(open)
                    fd = nil
                    failed.store(true, ordering: .releasing)
                    return false
                }
                written += n
            }
            failed.store(false, ordering: .releasing)
            return true
        }
    }

    /// Opens (creating with 0640) for appending; nil, logged, when it cannot.
    private func open() -> Int32? {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                logger.error("audit folder cannot be made", metadata: ["audit": "\(path)", "error": "\(error.localizedDescription)"])
                return nil
            }
        }
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            logger.error("audit cannot be opened", metadata: ["audit": "\(path)", "error": "\(String(cString: strerror(errno)))"])
            return nil
        }
        return fd
    }
}
