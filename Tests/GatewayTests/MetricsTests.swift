import Foundation
import Logging
import MQTT
import Modbus
import ModbusNIO
import Prometheus
import ServiceLifecycle
import Simulation
import SunSpec
import Synchronization
import Testing

@testable import Gateway

/// A gateway with metrics, over in-process devices, with a registry of its own.
struct MetricsGateway {
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let app: GatewayApplication
    let metrics: GatewayMetrics
    /// The port `/metrics` listens on (nil when `metrics:` is not configured).
    let port: Int?

    static func start(
        devices: [DeviceConfig], readers: [String: any RegisterReader], clocks: Clocks = .real, serve: Bool = false
    ) async throws -> MetricsGateway {
        var config = GatewayConfig(socketPath: temporarySocketPath(), devices: devices)
        if serve { config.metrics = MetricsSettings(host: "127.0.0.1", port: 0) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let (ready, readiness) = AsyncStream<Void>.makeStream()
        let port = Mutex<Int?>(nil)
        let app = GatewayApplication(
            config: config, logger: logger, clocks: clocks, readers: readers, registry: PrometheusCollectorRegistry(),
            onMetricsReady: { bound in port.withLock { $0 = bound } }, onReady: { readiness.yield() })
        let group = ServiceGroup(services: [app], logger: logger)
        let task = Task {
            defer { readiness.finish() }
            try await group.run()
        }
        for await _ in ready { break }
        return MetricsGateway(group: group, task: task, app: app, metrics: try #require(app.metrics), port: port.withLock { $0 })
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        do { try await task.value } catch { Issue.record("the gateway stopped with \(error)") }
    }

    /// The value of one series of the exposition (`name{labels}` exactly as rendered), nil if absent.
    func value(_ series: String) -> Double? {
        Self.value(series, in: String(decoding: metrics.exposition(), as: UTF8.self))
    }

    /// The sum of every series of `name` whose labels include `labels` (`device="d"`).
    func sum(_ name: String, _ labels: String) -> Double {
        String(decoding: metrics.exposition(), as: UTF8.self).split(separator: "\n")
            .filter { $0.hasPrefix(name + "{") && $0.contains(labels) }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }

    static func value(_ series: String, in exposition: String) -> Double? {
        for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }
}

/// One HTTP/1.1 GET over a plain socket: status line and body.
func httpGet(port: Int, path: String) throws -> (status: String, body: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    try #require(connected == 0)
    let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
    try #require(request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == request.count)
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        response += buffer[0..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    let parts = text.components(separatedBy: "\r\n\r\n")
    return (parts[0].components(separatedBy: "\r\n")[0], parts.dropFirst().joined(separator: "\r\n\r\n"))
}

@Suite("Metrics: what the gateway counts, /metrics and /status", .serialized)
struct MetricsTests {
    static let wall = Date(timeIntervalSince1970: 1_800_000_000)
    func battery() throws -> CaptureDevices { CaptureDevices([1: try fixtureImage("battery-inverter.json")]) }
    let ok = #"sunspec_gateway_modbus_requests_total{device="d",function="read_holding_registers",result="ok"}"#
    let timeouts = #"sunspec_gateway_modbus_requests_total{device="d",function="read_holding_registers",result="timeout"}"#

    @Test("requests, state and up follow the device: online, then every read timing out, then offline")
    func deviceFails() async throws {
        let switched = SwitchedReader(InProcessReader(try battery()))
        let reader = CountingReader(switched)
        let clock = ManualClock()
        let config = DeviceConfig(name: "d", endpoint: .tcp(host: "sim", port: 502), interval: .seconds(1))
        let gateway = try await MetricsGateway.start(
            devices: [config], readers: ["d": reader], clocks: Clocks(clock, wall: { Self.wall }))
        let client = Recorder()
        gateway.app.hub.subscribe(client)
        #expect(await client.line { $0.contains("\"state\":\"online\"") } != nil)
        #expect(gateway.value(#"sunspec_gateway_device_up{device="d"}"#) == 1)
        #expect(gateway.value(#"sunspec_gateway_device_state{device="d",state="online"}"#) == 1)
        #expect(gateway.value(#"sunspec_gateway_device_state{device="d",state="offline"}"#) == 0)
        // Every read of discovery is counted once, by its result (a refused read past the chain too).
        let requests = "sunspec_gateway_modbus_requests_total"
        #expect(gateway.sum(requests, #"device="d""#) == Double(reader.transactions))
        let discoveryOK = try #require(gateway.value(ok))
        #expect(discoveryOK == Double(reader.reads.filter { !$0.contains(" ") }.count))
        #expect(gateway.value(#"sunspec_gateway_last_success_timestamp_seconds{device="d"}"#) == Self.wall.timeIntervalSince1970)
        // One poll: its requests are counted, and the poll itself.
        await clock.sleepers(atLeast: 1)
        clock.advance(by: .seconds(1))
        #expect(await client.line { $0.contains("\"type\":\"reading\"") } != nil)
        let afterPoll = reader.transactions
        #expect(gateway.sum(requests, #"device="d""#) == Double(afterPoll))
        let pollOK = try #require(gateway.value(ok))
        #expect(pollOK > discoveryOK)
        #expect(gateway.value(#"sunspec_gateway_poll_duration_seconds_count{device="d"}"#) == 1)
        // The device stops answering: a poll times out (tried twice), the device goes offline.
        switched.down.store(true, ordering: .relaxed)
        await clock.sleepers(atLeast: 1)
        clock.advance(by: .seconds(1))
        #expect(await client.line { $0.contains("\"state\":\"offline\"") } != nil)
        #expect(gateway.value(timeouts) == Double(reader.transactions - afterPoll))
        #expect(gateway.value(timeouts) == 2)
        #expect(gateway.value(ok) == pollOK)
        #expect(gateway.value(#"sunspec_gateway_device_up{device="d"}"#) == 0)
        #expect(gateway.value(#"sunspec_gateway_device_state{device="d",state="offline"}"#) == 1)
        // After the backoff the map is found again: one rediscovery for a failure.
        await clock.sleepers(atLeast: 1)
        clock.advance(by: .seconds(1))
        #expect(await client.line { $0.contains("\"state\":\"discovering\"") } != nil)
        #expect(gateway.value(#"sunspec_gateway_rediscoveries_total{device="d",reason="failed"}"#) == 1)
        #expect(gateway.value(#"sunspec_gateway_rediscoveries_total{device="d",reason="changed"}"#) == 0)
        // Still down: that discovery fails too.
        #expect(await client.line { $0.contains("\"state\":\"offline\"") } != nil)
        let health = gateway.metrics.devices["d"]?.snapshot()
        #expect(health?.state == .offline)
        #expect(health?.lastError?.contains("timed out") == true)
        #expect(health?.models.first == 1 && health?.models.contains(802) == true)
        await gateway.stop()
    }

    @Test("a poll that comes late (ticks skipped) counts one overrun; the reading age grows with the wall time")
    func overrunAndAge() async throws {
        let clock = ManualClock()
        let wall = Mutex(Self.wall)
        let config = DeviceConfig(name: "d", endpoint: .tcp(host: "sim", port: 502), interval: .seconds(1))
        let gateway = try await MetricsGateway.start(
            devices: [config], readers: ["d": InProcessReader(try battery())],
            clocks: Clocks(clock, wall: { wall.withLock { $0 } }))
        let client = Recorder()
        gateway.app.hub.subscribe(client)
        #expect(await client.line { $0.contains("\"state\":\"online\"") } != nil)
        #expect(gateway.value(#"sunspec_gateway_reading_age_seconds{device="d"}"#) == 0)
        wall.withLock { $0 += 7 }
        #expect(gateway.value(#"sunspec_gateway_reading_age_seconds{device="d"}"#) == 7)
        await clock.sleepers(atLeast: 1)
        clock.advance(by: .seconds(5))
        #expect(await client.line { $0.contains("\"type\":\"reading\"") } != nil)
        await clock.sleepers(atLeast: 1)
        #expect(gateway.value(#"sunspec_gateway_poll_overruns_total{device="d"}"#) == 1)
        #expect(gateway.value(#"sunspec_gateway_reading_age_seconds{device="d"}"#) == 0)
        await gateway.stop()
    }

    @Test("exceptions are counted by code; each refused read is a request with result exception")
    func exceptionsByCode() async throws {
        let reader = CountingReader(InProcessReader(try battery()), refuseAbove: 62)
        let config = DeviceConfig(name: "d", endpoint: .tcp(host: "sim", port: 502), interval: .milliseconds(50))
        let gateway = try await MetricsGateway.start(devices: [config], readers: ["d": reader])
        let client = Recorder()
        gateway.app.hub.subscribe(client)
        #expect(await client.line { $0.contains("\"state\":\"online\"") } != nil)
        let refused = reader.reads.filter { $0.hasSuffix("refused") }.count
        #expect(refused > 0)
        let exceptions = try #require(gateway.value(#"sunspec_gateway_modbus_exceptions_total{device="d",code="3"}"#))
        #expect(exceptions == Double(refused))
        // Every exception reply (refusals, and a read past the chain's end) is a request with result exception.
        let asRequests = #"sunspec_gateway_modbus_requests_total{device="d",function="read_holding_registers",result="exception"}"#
        #expect(gateway.value(asRequests) == gateway.sum("sunspec_gateway_modbus_exceptions_total", #"device="d""#))
        #expect(gateway.value(asRequests) == Double(reader.reads.filter { $0.contains("refused") || $0.contains("exception") }.count))
        await gateway.stop()
    }

    @Test("/metrics and /status are served over HTTP; other paths are 404")
    func served() async throws {
        let config = DeviceConfig(name: "d", endpoint: .tcp(host: "sim", port: 502), interval: .milliseconds(20))
        let gateway = try await MetricsGateway.start(devices: [config], readers: ["d": InProcessReader(try battery())], serve: true)
        let port = try #require(gateway.port)
        let client = Recorder()
        gateway.app.hub.subscribe(client)
        // Two polls after discovery: the status has poll figures.
        for _ in 0..<2 { #expect(await client.line { $0.contains("\"type\":\"reading\"") && $0.contains("\"model\":802") } != nil) }
        let metrics = try httpGet(port: port, path: "/metrics")
        #expect(metrics.status == "HTTP/1.1 200 OK")
        #expect(MetricsGateway.value(#"sunspec_gateway_device_up{device="d"}"#, in: metrics.body) == 1)
        #expect(MetricsGateway.value(#"sunspec_gateway_build_info{version="\#(StreamRecords.gatewayVersion)"}"#, in: metrics.body) == 1)
        #expect(metrics.body.contains("# HELP sunspec_gateway_modbus_requests_total "))
        let status = try httpGet(port: port, path: "/status")
        #expect(status.status == "HTTP/1.1 200 OK")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any])
        let device = try #require((report["devices"] as? [[String: Any]])?.first)
        #expect(device["name"] as? String == "d")
        #expect(device["state"] as? String == "online")
        #expect((device["models"] as? [Int])?.contains(802) == true)
        #expect((device["requests_per_poll"] as? Int ?? 0) >= 1)
        #expect(device["poll_p50_seconds"] is Double)
        #expect(device["last_success"] is String)
        #expect(try httpGet(port: port, path: "/nothing").status == "HTTP/1.1 404 Not Found")
        await gateway.stop()
    }

    @Test("each control record counts one control request by device, point and result")
    func controlRequests() throws {
        let config = GatewayConfig(devices: [DeviceConfig(name: "d", endpoint: .tcp(host: "h", port: 502))])
        let metrics = GatewayMetrics(config: config, registry: PrometheusCollectorRegistry())
        let sink = MetricsSink(metrics: metrics, wall: { Date() })
        func record(_ result: ControlResult) -> GatewayEvent {
            .control(
                ControlRecord(
                    timestamp: "t", id: nil, client: .socket(uid: 0, pid: 1), op: "set", device: "d", point: "124.WChaMax",
                    outcome: ControlOutcome(result)))
        }
        for event in [record(.applied), record(.applied), record(.outOfRange)] { sink.receive(event) }
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(text.contains(#"sunspec_gateway_control_requests_total{device="d",point="124.WChaMax",result="applied"} 2"#))
        #expect(text.contains(#"sunspec_gateway_control_requests_total{device="d",point="124.WChaMax",result="out_of_range"} 1"#))
    }

    @Test("with mqtt: the MQTT metrics are in the exposition with HELP lines, 0 before any connect; kept and dropped move")
    func mqttMetrics() throws {
        var config = GatewayConfig(devices: [DeviceConfig(name: "d", endpoint: .tcp(host: "h", port: 502))])
        config.mqtt = MQTTSettings(
            connection: MQTTOptions(host: "127.0.0.1", port: 1, clientID: "c"), qos: 1, topicPrefix: "sunspec", bufferMessages: 2,
            bufferBytes: 1 << 20)
        let metrics = GatewayMetrics(config: config, registry: PrometheusCollectorRegistry())
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let sink = MQTTSink(settings: try #require(config.mqtt), devices: ["d"], logger: logger)
        metrics.attach(mqtt: sink)
        let before = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(MetricsGateway.value("sunspec_gateway_mqtt_connected", in: before) == 0)
        #expect(MetricsGateway.value("sunspec_gateway_mqtt_published_total", in: before) == 0)
        #expect(MetricsGateway.value("sunspec_gateway_mqtt_buffered_messages", in: before) == 0)
        #expect(MetricsGateway.value("sunspec_gateway_mqtt_dropped_total", in: before) == 0)
        #expect(before.contains("# HELP sunspec_gateway_mqtt_dropped_total "))
        let counters = sink.counters
        #expect(!counters.connected && counters.published == 0)
        // The broker away: five status messages kept in a buffer of two; the three oldest dropped.
        for i in 0..<5 {
            sink.receive(.status(DeviceStatus(device: "d", state: i % 2 == 0 ? .offline : .online, timestamp: "t\(i)")))
        }
        let after = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(MetricsGateway.value("sunspec_gateway_mqtt_buffered_messages", in: after) == 2)
        #expect(MetricsGateway.value("sunspec_gateway_mqtt_dropped_total", in: after) == 3)
        #expect(MetricsGateway.value("sunspec_gateway_mqtt_published_total", in: after) == 0)
    }

    @Test("every metric in the exposition has a HELP line before its TYPE line")
    func helpLines() throws {
        var config = GatewayConfig(devices: [DeviceConfig(name: "d", endpoint: .tcp(host: "h", port: 502), exportUnit: 1)])
        config.export = ExportSettings(host: "127.0.0.1", port: 0)
        let metrics = GatewayMetrics(config: config, registry: PrometheusCollectorRegistry())
        let lines = String(decoding: metrics.exposition(), as: UTF8.self).split(separator: "\n")
        // Exceptions by code appear with the first exception, the reading age and last success with the
        // first readings; every other metric is there from the start.
        let types = Set(lines.filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) })
        #expect(
            types
                == Set(MetricName.help.keys).subtracting([
                    MetricName.exceptions, MetricName.readingAge, MetricName.lastSuccess, MetricName.controlRequests,
                    MetricName.mqttConnected, MetricName.mqttPublished, MetricName.mqttBuffered, MetricName.mqttDropped,
                ]))
        for (i, line) in lines.enumerated() where line.hasPrefix("# TYPE ") {
            let name = line.split(separator: " ")[2]
            #expect(i > 0 && lines[i - 1].hasPrefix("# HELP \(name) "), "\(name)")
        }
    }
}

@Suite("Metrics: links, the stream, the export, the config")
struct MetricsPartsTests {
    @Test("a device's instrumented reader passes writes on to the device (control with metrics: on)")
    func instrumentedReaderWrites() async throws {
        let device = WritableDevice(try fixtureImage("battery-inverter.json"))
        let metrics = DeviceMetrics(device: "d", factory: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()))
        let reader = InstrumentedReader(reader: device, metrics: metrics)
        try await reader.write(unit: 1, address: 40279, registers: [2500], function: .multiple, timeout: nil)
        #expect(device.value(at: 40279) == 2500)
        #expect(device.writes.count == 1)
    }

    @Test("the busy ratio is busy time over the wall time between refreshes; reconnects are opens after the first")
    func busyRatio() {
        let link = LinkMetrics(endpoint: "h:502", factory: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()))
        #expect(link.refresh(now: .seconds(10), link: nil) == 0)
        link.requestEnded(busy: .milliseconds(300), error: nil)
        link.requestEnded(busy: .milliseconds(200), error: nil)
        // Too soon: the ratio stays as it was.
        #expect(link.refresh(now: .seconds(10) + .milliseconds(500), link: nil) == 0)
        #expect(abs(link.refresh(now: .seconds(12), link: nil) - 0.25) < 1e-9)
        link.linkOpened(first: true)
        link.linkOpened(first: false)
        #expect(link.reconnectTotal == 1)
    }

    @Test("a real link tells its observer of each request and of a reopened connection")
    func linkObserver() async throws {
        final class Heard: LinkObserver {
            let opens = Mutex<[Bool]>([])
            let requests = Mutex<[ModbusError?]>([])
            func linkOpened(first: Bool) { opens.withLock { $0.append(first) } }
            func requestEnded(busy: Duration, error: ModbusError?) { requests.withLock { $0.append(error) } }
        }
        let server = ModbusServer(port: 0, source: CaptureDevices([1: try fixtureImage("battery-inverter.json")]))
        let port = try await server.start()
        let heard = Heard()
        let link = ModbusLink(endpoint: .tcp(host: "127.0.0.1", port: port), observer: heard)
        _ = try await link.read(unit: 1, address: 40000, count: 2)
        await link.disconnect()
        _ = try await link.read(unit: 1, address: 40000, count: 2)
        await #expect(throws: ModbusError.self) { try await link.read(unit: 9, address: 40000, count: 2) }
        await link.shutdown()
        await server.stop()
        #expect(heard.opens.withLock { $0 } == [true, false])
        let errors = heard.requests.withLock { $0 }
        #expect(errors.count == 3)
        #expect(errors[0] == nil && errors[1] == nil)
        #expect(errors[2].map { RequestResult($0) } == .exception)
    }

    @Test("stream disconnects by reason, export reads by unit and result")
    func streamAndExport() throws {
        var config = GatewayConfig(devices: [DeviceConfig(name: "d", endpoint: .tcp(host: "h", port: 502), exportUnit: 4)])
        config.export = ExportSettings(host: "127.0.0.1", port: 0)
        let metrics = GatewayMetrics(config: config, registry: PrometheusCollectorRegistry())
        metrics.stream.disconnected(.slow)
        metrics.stream.disconnected(.slow)
        let store = ExportStore(units: [4])
        let source = CountedSource(source: store, metrics: try #require(metrics.export))
        #expect(source.read(unit: 4, kind: .holding, address: 40000, count: 2) == .exception(0x0B))
        store.update(unit: 4, image: RegisterImage(blocks: [.init(start: 40000, registers: [1, 2])]))
        #expect(source.read(unit: 4, kind: .holding, address: 40000, count: 2) == .registers([1, 2]))
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(MetricsGateway.value(#"sunspec_gateway_stream_disconnects_total{reason="slow"}"#, in: text) == 2)
        let export = #"sunspec_gateway_export_requests_total{unit="4",function="read_holding_registers",result="#
        #expect(MetricsGateway.value(export + #""ok"}"#, in: text) == 1)
        #expect(MetricsGateway.value(export + #""exception"}"#, in: text) == 1)
    }

    @Test("metrics.listen is read and checked like the rest of the file")
    func config() throws {
        let good = try GatewayConfig.parse("metrics: {listen: \"127.0.0.1:9108\"}\ndevices:\n  - {name: a, tcp: h}", file: "f.yaml")
        #expect(good.metrics == MetricsSettings(host: "127.0.0.1", port: 9108))
        #expect(try GatewayConfig.parse("devices:\n  - {name: a, tcp: h}", file: "f.yaml").metrics == nil)
        let cases = [
            (
                "metrics:\n  listen: localhost\ndevices:\n  - {name: a, tcp: h}",
                "f.yaml:2: metrics.listen: 'localhost' is not IPV4-ADDRESS:PORT"
            ),
            ("metrics: {}\ndevices:\n  - {name: a, tcp: h}", "f.yaml:1: metrics.listen: missing (\"127.0.0.1:9108\")"),
        ]
        for (yaml, message) in cases {
            let error = #expect(throws: ConfigError.self) { try GatewayConfig.parse(yaml, file: "f.yaml") }
            #expect(error?.description == message)
        }
    }
}

@Suite("sd_notify")
struct SystemdNotifyTests {
    @Test("READY=1 goes to NOTIFY_SOCKET as one datagram; the watchdog runs at half WATCHDOG_USEC, for this process only")
    func notify() throws {
        let path = temporarySocketPath()
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        defer {
            close(fd)
            unlink(path)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "42"], pid: 42)
        #expect(notifier.watchdogInterval == .seconds(1))
        #expect(notifier.notify("READY=1") == nil)
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        #expect(String(decoding: buffer[0..<max(0, n)], as: UTF8.self) == "READY=1")
        #expect(
            SystemdNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "7"], pid: 42).watchdogInterval
                == nil)
        let outside = SystemdNotifier(environment: [:])
        #expect(outside.socket == nil && outside.watchdogInterval == nil)
        #expect(outside.notify("READY=1") == nil)
    }
}
