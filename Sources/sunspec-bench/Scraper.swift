import Foundation
import Synchronization

/// Scrapes `/metrics` over HTTP on a thread of its own every `every`, as Prometheus would, and keeps
/// how long each scrape took and how large the exposition was.
final class Scraper: Sendable {
    struct Figures {
        var count = 0
        var p50 = 0.0
        var bytes = 0
    }

    let every: Duration
    private let state = Mutex<(durations: [Double], bytes: Int, stopped: Bool)>(([], 0, false))

    init(every: Duration) { self.every = every }

    /// Starts scraping 127.0.0.1:`port`.
    func start(port: Int) {
        Thread { [self] in
            while !state.withLock({ $0.stopped }) {
                let start = ContinuousClock.now
                let size = Self.get(port: port)
                let took = ContinuousClock.now - start
                let ms = Double(took.components.attoseconds) / 1e15 + Double(took.components.seconds) * 1000
                state.withLock {
                    $0.durations.append(ms)
                    $0.bytes = size
                }
                let rest = every - took
                if rest > .zero {
                    Thread.sleep(forTimeInterval: Double(rest.components.seconds) + Double(rest.components.attoseconds) / 1e18)
                }
            }
        }.start()
    }

    /// Stops scraping; the figures so far.
    func stop() -> Figures {
        state.withLock { s in
            s.stopped = true
            let sorted = s.durations.sorted()
            return Figures(count: sorted.count, p50: sorted.isEmpty ? 0 : sorted[sorted.count / 2], bytes: s.bytes)
        }
    }

    /// One GET /metrics; the bytes of the response (0 on failure).
    static func get(port: Int) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return 0 }
        let request = Array("GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == request.count else { return 0 }
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            total += n
        }
        return total
    }
}
