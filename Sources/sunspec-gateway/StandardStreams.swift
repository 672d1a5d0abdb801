#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Buffered writes to standard output, and one-line messages to standard error.
struct StandardOutput {
    private var pending: [UInt8] = []
    private(set) var failed = false

    /// Writes bytes, flushing when the buffer is large.
    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        pending.append(contentsOf: bytes)
        if pending.count >= 1 << 16 { flush() }
    }

    /// Writes everything pending.
    mutating func flush() {
        guard !pending.isEmpty, !failed else {
            pending.removeAll(keepingCapacity: true)
            return
        }
        pending.withUnsafeBytes { buf in
            var offset = 0
            while offset < buf.count {
                let n = Glibc.write(1, buf.baseAddress! + offset, buf.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failed = true
                    return
                }
                offset += n
            }
        }
        pending.removeAll(keepingCapacity: true)
    }
}

/// Prints one line to standard output at once (unbuffered).
func printNow(_ line: String) {
    var text = line
    text.append("\n")
    text.withUTF8 { buf in _ = Glibc.write(1, buf.baseAddress, buf.count) }
}

/// Prints one line to standard error.
func printError(_ line: String) {
    var text = line
    text.append("\n")
    text.withUTF8 { buf in _ = Glibc.write(2, buf.baseAddress, buf.count) }
}
