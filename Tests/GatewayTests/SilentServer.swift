import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A device gone silent: a TCP server on 127.0.0.1 that accepts a connection (one at a time), reads
/// its Modbus requests (12-byte read ADUs) and never answers. `onRequest` hears of each as it arrives.
final class SilentServer: Sendable {
    let port: Int
    private let listener: Int32
    private let onRequest: @Sendable () -> Void
    private let state = Mutex(State())

    private struct State {
        var requests = 0
        var client: Int32?
        var stopped = false
        /// Closed by the server's thread as it ends, under the lock: a closed number may be reused.
        var listening = true
    }

    /// Requests received.
    var requests: Int { state.withLock { $0.requests } }

    init(onRequest: @escaping @Sendable () -> Void = {}) throws {
        self.onRequest = onRequest
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw POSIXError(.EMFILE) }
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 8) == 0 else {
            close(listener)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        guard named == 0 else {
            close(listener)
            throw POSIXError(.EBADF)
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in serve() }.start()
    }

    /// Stops accepting and drops the connection; the server's thread closes the descriptors as it ends.
    func stop() {
        state.withLock { state in
            state.stopped = true
            if let client = state.client { Glibc.shutdown(client, Int32(SHUT_RDWR)) }
            if state.listening { Glibc.shutdown(listener, Int32(SHUT_RDWR)) }
        }
    }

    private func serve() {
        defer {
            state.withLock { state in
                state.listening = false
                close(listener)
            }
        }
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let stopped = state.withLock { state in
                if !state.stopped { state.client = client }
                return state.stopped
            }
            if stopped {
                close(client)
                return
            }
            var request = [UInt8](repeating: 0, count: 12)
            while recv(client, &request, 12, Int32(MSG_WAITALL)) == 12 {
                state.withLock { $0.requests += 1 }
                onRequest()
            }
            state.withLock { state in
                state.client = nil
                close(client)
            }
        }
    }
}
