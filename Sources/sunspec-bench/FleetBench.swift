import Foundation
import Gateway
import Logging
import MQTT
import Modbus
import ServiceLifecycle

/// A fleet of TCP devices (served by a separate `sunspec-gateway simulate --ports N` process) polled
/// at 1 Hz by the engine through libmodbus, one connection and thread each, with one subscriber on
/// the socket. Prints the poll rate held, the CPU the gateway used (the CPU of the bench subscriber's own thread,
/// which reads the stream in this process, taken out and printed beside it) and its resident memory.
///
/// `--mqtt HOST:PORT` adds an `mqtt:` section (plain JSON topics under `sunspec`, QoS 1;
/// `--sparkplug 1`: Sparkplug B as well, group `bench`, node `fleet`), so every reading is published
/// too. The broker and the subscriber counting what arrives are other processes (bench/run.py); the
/// window measured is printed as Unix times (`window_start`, `window_end`) for the subscriber's counts.
enum FleetBench {
    static func run(arguments: [String]) async throws {
        let options = Options(arguments)
        let firstPort = options.int("--first-port", 30000)
        let devices = options.int("--devices", 1000)
        let interval = Duration.milliseconds(options.int("--interval", 1000))
        let seconds = options.int("--seconds", 20)
        let configs = (0..<devices).map { i in
            DeviceConfig(
                name: "bess-\(i)", endpoint: .tcp(host: "127.0.0.1", port: firstPort + i), interval: interval, timeout: .seconds(2))
        }
        // --scrape-ms N: /metrics is scraped over HTTP every N ms, as Prometheus would.
        let scrapeEvery = options.int("--scrape-ms", 0)
        let scraper = scrapeEvery > 0 ? Scraper(every: .milliseconds(scrapeEvery)) : nil
        var onMetrics: (@Sendable (Int) -> Void)? = nil
        if let scraper { onMetrics = { port in scraper.start(port: port) } }
        var mqtt: MQTTSettings? = nil
        if let broker = options.values["--mqtt"] {
            let parts = broker.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]) else {
                FileHandle.standardError.write(Data("sunspec-bench fleet: --mqtt HOST:PORT, not '\(broker)'\n".utf8))
                exit(64)
            }
            var settings = MQTTSettings(
                connection: MQTTOptions(host: String(parts[0]), port: port, clientID: "sunspec-bench-\(getpid())"), qos: 1,
                topicPrefix: "sunspec")
            if options.int("--sparkplug", 0) != 0 { settings.sparkplug = .init(group: "bench", node: "fleet") }
            mqtt = settings
        }
        let (group, task, path, _) = BenchGateway.start(
            configs, name: "fleet", bufferLimit: 256 << 20, metrics: onMetrics, mqtt: mqtt)
        // Discovery of the whole fleet, then a settling period.
        try await Task.sleep(for: .seconds(max(5, devices / 100)))
        let reader = LatencyReader(path: path)
        reader.start()
        try await Task.sleep(for: .seconds(3))
        reader.resetCounts()
        let cpuBefore = cpuSeconds()
        let subscriberBefore = reader.snapshot().threadCPU
        let windowStart = Date().timeIntervalSince1970
        try await Task.sleep(for: .seconds(seconds))
        let cpu = cpuSeconds() - cpuBefore
        let windowEnd = Date().timeIntervalSince1970
        let counts = reader.snapshot()
        // The bench's own subscriber reads the stream in this process: its thread's CPU is not the gateway's.
        let subscriberCPU = counts.threadCPU - subscriberBefore
        let rss = residentMB()
        let scrapes = scraper?.stop() ?? Scraper.Figures()
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        let polled = options.int("--models-per-poll", 9)
        let pollsPerSecond = Double(counts.readings) / Double(polled) / Double(seconds)
        let target = Double(devices) * 1000 / Double(options.int("--interval", 1000))
        var latencies = counts.latencies.sorted()
        if latencies.isEmpty { latencies = [0] }
        print(
            #"{"peer":"sunspec-gateway","bench":"fleet","devices":\#(devices),"interval_ms":\#(options.int("--interval", 1000)),"polls_per_s":\#(String(format: "%.1f", pollsPerSecond)),"target_polls_per_s":\#(Int(target)),"held":\#(pollsPerSecond >= target * 0.97),"cpu_cores":\#(String(format: "%.2f", (cpu - subscriberCPU) / Double(seconds))),"bench_subscriber_cores":\#(String(format: "%.2f", subscriberCPU / Double(seconds))),"unread_stamps":\#(counts.unreadStamps),"rss_mb":\#(rss),"latency_ms_p50":\#(latencies[latencies.count / 2]),"latency_ms_p99":\#(latencies[min(latencies.count - 1, latencies.count * 99 / 100)]),"scrape_ms":\#(scrapeEvery),"scrapes":\#(scrapes.count),"scrape_ms_p50":\#(String(format: "%.1f", scrapes.p50)),"scrape_bytes":\#(scrapes.bytes),"readings_per_s":\#(String(format: "%.1f", Double(counts.readings) / Double(seconds))),"mqtt":\#(mqtt == nil ? "null" : "\"\(options.values["--mqtt"]!)\""),"sparkplug":\#(mqtt?.sparkplug != nil),"window_start":\#(String(format: "%.3f", windowStart)),"window_end":\#(String(format: "%.3f", windowEnd))}"#
        )
    }
}
