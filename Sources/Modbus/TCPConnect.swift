import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Opens a TCP connection the way libmodbus's `modbus_connect` would (non-blocking socket, Nagle off),
/// but waits for it with poll() rather than select(), so the connect itself never puts a descriptor in
/// an `fd_set`. The caller moves the socket onto its `LowDescriptor` before libmodbus sees it.
enum TCPConnect {
    /// A connected socket, or the errno of the last failure (every address tried in turn).
    static func open(host: String, port: Int, timeout: Duration) -> Result<Int32, LowDescriptor.Errno> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else { return .failure(.init(rc == EAI_SYSTEM ? errno : EHOSTUNREACH)) }
        defer { freeaddrinfo(list) }
        var lastError: Int32 = ECONNREFUSED
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let info = node {
            node = info.pointee.ai_next
            let fd = socket(
                info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else {
                lastError = errno
                continue
            }
            if let code = connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen, timeout: timeout) {
                lastError = code
                close(fd)
                continue
            }
            var one: Int32 = 1
            if setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size)) != 0 {
                lastError = errno
                close(fd)
                continue
            }
            return .success(fd)
        }
        return .failure(.init(lastError))
    }

    /// Connects a non-blocking socket within `timeout`; nil when connected, else the errno.
    private static func connect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t, timeout: Duration) -> Int32? {
        if Glibc.connect(fd, address, length) == 0 { return nil }
        guard errno == EINPROGRESS else { return errno }
        var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let millis = Int32(clamping: max(1, timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        var ready: Int32
        repeat { ready = poll(&entry, 1, millis) } while ready < 0 && errno == EINTR
        if ready < 0 { return errno }
        if ready == 0 { return ETIMEDOUT }
        var code: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &size) != 0 { return errno }
        return code == 0 ? nil : code
    }
}
