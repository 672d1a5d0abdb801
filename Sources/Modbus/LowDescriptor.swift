import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A descriptor number below `FD_SETSIZE` (1024), held by one link for its whole life.
///
/// libmodbus waits with select(), whose `fd_set` holds descriptors 0...1023 only: glibc aborts the
/// process on a larger one (FD_SET's fortify check), and it would, inside `modbus_connect`, as soon as
/// stream subscribers and export clients had taken the low numbers. So each link reserves a number
/// when it is created (at startup, while low numbers are free), keeps it pointing at /dev/null while
/// disconnected, and moves each new connection onto it with `dup2`, which replaces atomically: no
/// other thread can take the number in between.
final class LowDescriptor: Sendable {
    /// The reserved number, or nil when none below 1024 was free.
    let number: Int32?

    /// Reserves a number (nil when every number below 1024 is taken).
    init() {
        let fd = open("/dev/null", O_RDWR | O_CLOEXEC)
        if fd >= 0 && fd < 1024 {
            number = fd
        } else {
            if fd >= 0 { close(fd) }
            number = nil
        }
    }

    deinit {
        if let number { close(number) }
    }

    /// Moves `fd` onto the reserved number and closes `fd`: the number then refers to its file.
    /// Returns the number, or the errno of the failed `dup3`.
    func adopt(_ fd: Int32) -> Result<Int32, Errno> {
        guard let number else {
            close(fd)
            return .failure(Errno(EMFILE))
        }
        if fd == number { return .success(number) }
        let rc = Self.dup(fd, onto: number)
        let code = errno
        close(fd)
        return rc < 0 ? .failure(Errno(code)) : .success(number)
    }

    /// Closes what the number refers to (the socket or the serial line), keeping the number.
    func release() {
        guard let number else { return }
        // dup3 onto an open number fails only when /dev/null itself could not be opened: then at
        // least end the connection, and the next adopt replaces what is left.
        if Self.dup(Self.null, onto: number) < 0 { shutdown(number, Int32(SHUT_RDWR)) }
    }

    /// dup2 (atomic: the number never stands free), close-on-exec set again after it.
    private static func dup(_ fd: Int32, onto number: Int32) -> Int32 {
        let rc = dup2(fd, number)
        if rc >= 0 { _ = fcntl(number, F_SETFD, FD_CLOEXEC) }
        return rc
    }

    /// /dev/null, opened once for the process: what a released number points at.
    private static let null: Int32 = open("/dev/null", O_RDWR | O_CLOEXEC)

    /// An errno value.
    struct Errno: Error, Sendable {
        let code: Int32
        init(_ code: Int32) { self.code = code }
    }
}
