import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A Modbus TCP server of our own, on raw sockets, that answers the way broken devices do: its
/// `answer` closure turns each request ADU into the bytes sent back (none, one frame, two frames).
/// One client at a time, on a thread of its own.
final class RogueServer: Sendable {
    private struct State {
        var stopped = false
        var requestCount = 0
    }

    let port: Int
    private let listener: Int32
    private let answer: @Sendable (_ request: [UInt8], _ index: Int) -> [UInt8]
    private let state = Mutex(State())

    /// Registers served: register `a` holds `value(a)`.
    static func value(_ address: Int) -> UInt16 { UInt16(truncatingIfNeeded: address &* 7 &+ 3) }

    /// A correct reply to a read request (an ADU), from `unit`, with transaction id `transaction`.
    static func reply(to request: [UInt8], unit: UInt8? = nil, transaction: UInt16? = nil, protocolID: UInt16 = 0) -> [UInt8] {
        let address = Int(request[8]) << 8 | Int(request[9])
        let count = Int(request[10]) << 8 | Int(request[11])
        let tid = transaction ?? (UInt16(request[0]) << 8 | UInt16(request[1]))
        var pdu: [UInt8] = [request[7], UInt8(2 * count)]
        for a in address..<(address + count) { pdu += [UInt8(value(a) >> 8), UInt8(value(a) & 0xFF)] }
        let length = pdu.count + 1
        return [
            UInt8(tid >> 8), UInt8(tid & 0xFF), UInt8(protocolID >> 8), UInt8(protocolID & 0xFF), UInt8(length >> 8), UInt8(length & 0xFF),
        ]
            + [unit ?? request[6]] + pdu
    }

    init(answer: @escaping @Sendable (_ request: [UInt8], _ index: Int) -> [UInt8]) throws {
        self.answer = answer
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 8) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            _ = $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    /// Requests received.
    var requests: Int { state.withLock { $0.requestCount } }

    func stop() {
        state.withLock { $0.stopped = true }
        Glibc.shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve() {
        while !state.withLock({ $0.stopped }) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 12)
            while recv(client, &buffer, 12, Int32(MSG_WAITALL)) == 12 {
                let index = state.withLock {
                    $0.requestCount += 1
                    return $0.requestCount - 1
                }
                let out = answer(buffer, index)
                if !out.isEmpty { _ = Glibc.send(client, out, out.count, Int32(MSG_NOSIGNAL)) }
            }
            close(client)
        }
    }
}
