import Foundation
import Synchronization

/// Scrapes `/metrics` over HTTP every `every`, as Prometheus would, from another process (curl in a
/// shell loop, so the scraper's own CPU is not the gateway's), and reports each scrape's time and size.
final class Scraper: Sendable {
    struct Figures {
        var count = 0
        var p50 = 0.0
        var bytes = 0
    }

    let every: Duration
    private let process = Mutex<Process?>(nil)
    private let log = FileManager.default.temporaryDirectory.appendingPathComponent("ssgw-scrapes-\(getpid()).txt")

    init(every: Duration) { self.every = every }

    /// Starts scraping 127.0.0.1:`port`.
    func start(port: Int) {
        let seconds = Double(every.components.seconds) + Double(every.components.attoseconds) / 1e18
        let loop = Process()
        loop.executableURL = URL(fileURLWithPath: "/bin/sh")
        loop.arguments = [
            "-c",
            "while :; do curl -s -o /dev/null -w '%{time_total} %{size_download}\\n' http://127.0.0.1:\(port)/metrics >> \(log.path); sleep \(seconds); done",
        ]
        do {
            try loop.run()
            process.withLock { $0 = loop }
        } catch {
            print("scraper: cannot run /bin/sh: \(error)")
        }
    }

    /// Stops scraping; the figures so far.
    func stop() -> Figures {
        if let loop = process.withLock({ $0 }) {
            loop.terminate()
            loop.waitUntilExit()
        }
        defer { unlink(log.path) }
        let text: String
        do {
            text = try String(contentsOf: log, encoding: .utf8)
        } catch {
            print("scraper: no scrape was recorded (\(error))")
            return Figures()
        }
        let rows = text.split(separator: "\n").map { $0.split(separator: " ") }.filter { $0.count == 2 }
        let times = rows.compactMap { Double($0[0]) }.map { $0 * 1000 }.sorted()
        return Figures(count: times.count, p50: times.isEmpty ? 0 : times[times.count / 2], bytes: rows.last.flatMap { Int($0[1]) } ?? 0)
    }
}
