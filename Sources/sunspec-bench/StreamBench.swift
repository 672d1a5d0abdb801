import Captures
import Foundation
import Gateway
import Logging
import Modbus
import ModbusNIO
import ServiceLifecycle
import Simulation
import SunSpec
import Synchronization

/// The live path end to end, in one process: simulated devices on loopback TCP ports (libmodbus
/// servers on SwiftNIO), the engine polling them through libmodbus, the hub and its Unix socket, and
/// subscribers reading it. Prints readings per second and the latency from the registers' read
/// (`ts`) to the line arriving at a subscriber.
enum StreamBench {
    static func run(capture: String, arguments: [String]) async throws {
        let options = Options(arguments)
        let devices = options.int("--devices", 20)
        let subscribers = options.int("--subscribers", 10)
        let interval = Duration.milliseconds(options.int("--interval", 100))
        let seconds = options.int("--seconds", 10)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: capture)))
        var image: RegisterImage?
        _ = CaptureReader.read(bytes, name: capture) { image = $0.image }
        guard let image else { exit(65) }
        let source = CaptureDevices([1: image])
        var servers: [ModbusServer] = []
        var configs: [DeviceConfig] = []
        for i in 0..<devices {
            let server = ModbusServer(port: 0, source: source)
            let port = try await server.start()
            servers.append(server)
            configs.append(DeviceConfig(name: "dev-\(i)", endpoint: .tcp(host: "127.0.0.1", port: port), interval: interval))
        }
        let (group, task, path) = BenchGateway.start(configs, name: "stream", bufferLimit: 64 << 20)
        try await Task.sleep(for: .seconds(2))  // discovery, warm-up
        let readers = (0..<subscribers).map { _ in LatencyReader(path: path) }
        readers.forEach { $0.start() }
        try await Task.sleep(for: .seconds(1))
        readers.forEach { $0.resetCounts() }
        let cpuBefore = cpuSeconds()
        try await Task.sleep(for: .seconds(seconds))
        let cpu = cpuSeconds() - cpuBefore
        let counts = readers.map { $0.snapshot() }
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        for server in servers { await server.stop() }
        var latencies = counts.flatMap(\.latencies).sorted()
        if latencies.isEmpty { latencies = [0] }
        let readings = counts.map(\.readings).reduce(0, +) / max(1, subscribers)
        func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        print(
            #"{"peer":"sunspec-gateway","bench":"stream","devices":\#(devices),"subscribers":\#(subscribers),"interval_ms":\#(options.int("--interval", 100)),"readings_per_s":\#(readings / seconds),"lines_per_s_all_subscribers":\#(counts.map(\.readings).reduce(0, +) / seconds),"latency_ms_p50":\#(percentile(0.5)),"latency_ms_p99":\#(percentile(0.99)),"cpu_percent":\#(Int(cpu / Double(seconds) * 100)),"rss_mb":\#(residentMB())}"#
        )
    }
}

/// The gateway under benchmark, built as `run` builds it, on a socket in the temp folder.
enum BenchGateway {
    static func start(_ configs: [DeviceConfig], name: String, bufferLimit: Int) -> (ServiceGroup, Task<Void, any Error>, String) {
        let (group, task, path, _) = start(configs, name: name, bufferLimit: bufferLimit, metrics: nil)
        return (group, task, path)
    }

    /// The same, with `metrics:` on a free port when `metrics` is given (told the port once it listens).
    static func start(
        _ configs: [DeviceConfig], name: String, bufferLimit: Int, metrics: (@Sendable (Int) -> Void)?, mqtt: MQTTSettings? = nil
    ) -> (ServiceGroup, Task<Void, any Error>, String, GatewayApplication) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ssgw-\(name)-\(getpid()).sock").path
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        var config = GatewayConfig(socketPath: path, bufferLimit: bufferLimit, devices: configs)
        if metrics != nil { config.metrics = MetricsSettings(host: "127.0.0.1", port: 0) }
        config.mqtt = mqtt
        let app = GatewayApplication(config: config, logger: logger, onMetricsReady: metrics)
        let group = ServiceGroup(services: [app], logger: logger)
        return (group, Task { try await group.run() }, path, app)
    }
}

/// Reads a stream socket on a thread of its own, counting readings and their latency.
final class LatencyReader: Sendable {
    struct Counts {
        var readings = 0
        var latencies: [Double] = []
        /// Reading lines whose `ts` could not be read.
        var unreadStamps = 0
        /// CPU seconds the reader's own thread has used so far (not reset): the bench's subscriber
        /// runs in the gateway's process, so its share is taken out of the gateway's figure.
        var threadCPU = 0.0
    }

    let path: String
    private let counts = Mutex(Counts())

    init(path: String) { self.path = path }

    func resetCounts() {
        counts.withLock { c in
            let cpu = c.threadCPU
            c = Counts()
            c.threadCPU = cpu
        }
    }
    func snapshot() -> Counts { counts.withLock { $0 } }

    func start() {
        Thread { [self] in
            guard let fd = UnixSocket.connect(path) else { return }
            defer { close(fd) }
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            let formatter = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
            let readingPrefix = Array(#"{"type":"reading""#.utf8)
            let tsKey = Array(#""ts":""#.utf8)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { return }
                let now = Date()
                pending += buffer[0..<n]
                var batch = Counts()
                // Lines are found by index and the consumed bytes dropped once per read: removing each line
                // from the front would copy the rest every time (quadratic in what one read brings).
                var consumed = 0
                pending.withUnsafeBufferPointer { bytes in
                    var lineStart = 0
                    while let nl = Self.index(of: [0x0A], in: bytes, from: lineStart, before: bytes.count) {
                        // {"type":"reading","device":"..","ts":"2026-...Z",...
                        let line = UnsafeBufferPointer(rebasing: bytes[lineStart..<nl])
                        if line.starts(with: readingPrefix) {
                            batch.readings += 1
                            if let key = Self.index(of: tsKey, in: line, from: readingPrefix.count, before: min(line.count, 160)),
                                key + tsKey.count + 24 <= line.count
                            {
                                let text = String(decoding: line[(key + tsKey.count)..<(key + tsKey.count + 24)], as: UTF8.self)
                                do {
                                    batch.latencies.append(now.timeIntervalSince(try formatter.parse(text)) * 1000)
                                } catch {
                                    batch.unreadStamps += 1
                                }
                            } else {
                                batch.unreadStamps += 1
                            }
                        }
                        lineStart = nl + 1
                    }
                    consumed = lineStart
                }
                pending.removeSubrange(..<consumed)
                let cpu = Self.threadCPUSeconds()
                counts.withLock {
                    $0.readings += batch.readings
                    $0.latencies += batch.latencies
                    $0.unreadStamps += batch.unreadStamps
                    $0.threadCPU = cpu
                }
            }
        }.start()
    }

    /// Where `needle` first starts in `bytes[from..<before]` (memchr for its first byte).
    private static func index(of needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from: Int, before: Int) -> Int? {
        guard let base = bytes.baseAddress, let first = needle.first else { return nil }
        var at = from
        while at + needle.count <= before {
            guard let hit = memchr(base + at, Int32(first), before - at) else { return nil }
            let i = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            if i + needle.count <= before, needle.indices.allSatisfy({ bytes[i + $0] == needle[$0] }) { return i }
            at = i + 1
        }
        return nil
    }

    /// CPU seconds of the calling thread.
    private static func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}

/// User + system CPU time of this process.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(
        usage.ru_stime.tv_usec) / 1e6
}

/// Resident memory of this process, from /proc/self/status.
func residentMB() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kb = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { return -1 }
    return kb / 1024
}

/// `--name value` options.
struct Options {
    let values: [String: String]
    init(_ arguments: [String]) {
        var values: [String: String] = [:]
        var i = 0
        while i + 1 < arguments.count {
            values[arguments[i]] = arguments[i + 1]
            i += 2
        }
        self.values = values
    }
    func int(_ name: String, _ fallback: Int) -> Int { values[name].flatMap(Int.init) ?? fallback }
}
