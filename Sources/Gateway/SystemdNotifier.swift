import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// The `sd_notify` protocol without libsystemd: datagrams such as `READY=1` and `WATCHDOG=1` sent to
/// the Unix socket `NOTIFY_SOCKET` names (a path, or `@name` in the abstract namespace). Without
/// that variable (not run by systemd with `Type=notify`) it does nothing.
public struct SystemdNotifier: Sendable {
    /// The socket's address as given (nil: not under systemd).
    public let socket: String?
    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, when it is set for this process.
    public let watchdogInterval: Duration?

    /// A notifier from the process's environment (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, pid: Int32 = getpid()) {
        let socket = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        self.socket = socket
        let forUs = environment["WATCHDOG_PID"].map { Int32($0) == pid } ?? true
        if socket != nil, forUs, let text = environment["WATCHDOG_USEC"], let usec = Int64(text), usec > 0 {
            watchdogInterval = .microseconds(usec / 2)
        } else {
            watchdogInterval = nil
        }
    }

    /// Sends one state line (`READY=1`, `WATCHDOG=1`, `STOPPING=1`); the error text when it could not.
    @discardableResult
    public func notify(_ state: String) -> String? {
        guard let socket else { return nil }
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return "socket: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socket.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }  // the abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return "NOTIFY_SOCKET is longer than \(capacity - 1) bytes" }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.enumerated() { raw[i] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sockaddrPointer, length) }
            }
        }
        return sent == message.count ? nil : "sendto \(socket): \(String(cString: strerror(errno)))"
    }
}

/// Keeps systemd's watchdog fed: `WATCHDOG=1` every half `WATCHDOG_USEC` from a task of the
/// gateway's, so a process whose tasks no longer run is restarted. Ends at a graceful shutdown.
public struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let logger: Logger

    /// The watchdog of `notifier` (it does nothing when systemd set no watchdog).
    public init(notifier: SystemdNotifier, logger: Logger) {
        self.notifier = notifier
        self.logger = logger
    }

    public func run() async throws {
        guard let interval = notifier.watchdogInterval else { return }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let error = notifier.notify("WATCHDOG=1") { logger.warning("systemd watchdog", metadata: ["error": "\(error)"]) }
                do { try await Task.sleep(for: interval) } catch { return }
            }
        }
    }
}
