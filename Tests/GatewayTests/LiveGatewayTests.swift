import Foundation
import Gateway
import Logging
import Modbus
import ServiceLifecycle
import Simulation
import SunSpec
import Synchronization
import Testing

/// A gateway running in the test, built as `run` builds it, over in-process devices.
struct RunningGateway {
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let path: String
    let app: GatewayApplication
    var hub: Hub { app.hub }

    static func start(
        devices: [DeviceConfig], readers: [String: any RegisterReader], bufferLimit: Int = 4 << 20, maxSubscribers: Int = 1000,
        clocks: Clocks = .real
    ) async throws -> RunningGateway {
        var config = GatewayConfig(socketPath: temporarySocketPath(), bufferLimit: bufferLimit, devices: devices)
        config.maxSubscribers = maxSubscribers
        return try await start(config, readers: readers, clocks: clocks)
    }

    /// Starts a gateway with the SunSpec export (on a port of its own), and returns what the export
    /// serves beside it.
    static func startExporting(
        _ devices: [DeviceConfig], readers: [String: any RegisterReader]
    ) async throws -> (RunningGateway, ExportStore) {
        var config = GatewayConfig(socketPath: temporarySocketPath(), devices: devices)
        config.export = ExportSettings(host: "127.0.0.1", port: 0)
        let gateway = try await start(config, readers: readers)
        return (gateway, try #require(gateway.app.exportStore))
    }

    /// Starts the gateway of `config` (over Modbus links when `readers` is nil); returns once its
    /// socket accepts subscribers.
    static func start(
        _ config: GatewayConfig, readers: [String: any RegisterReader]?, clocks: Clocks = .real
    ) async throws -> RunningGateway {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let (ready, readiness) = AsyncStream<Void>.makeStream()
        let app = GatewayApplication(config: config, logger: logger, clocks: clocks, readers: readers, onStreamReady: { readiness.yield() })
        let group = ServiceGroup(services: [app], logger: logger)
        let task = Task {
            defer { readiness.finish() }  // a gateway that fails to start ends the wait too
            try await group.run()
        }
        for await _ in ready { break }
        return RunningGateway(group: group, task: task, path: config.socketPath, app: app)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        do { try await task.value } catch { Issue.record("the gateway stopped with \(error)") }
    }
}

@Suite("The live gateway: engine, hub and socket", .serialized)
struct LiveGatewayTests {
    func battery() throws -> CaptureDevices { CaptureDevices([1: try fixtureImage("battery-inverter.json")]) }

    @Test("a subscriber gets hello, status, meta, every reading, then live readings of the dynamic models")
    func stream() async throws {
        let devices = try battery()
        let config = DeviceConfig(name: "bess-1", endpoint: .tcp(host: "sim", port: 502), interval: .milliseconds(200))
        let gateway = try await RunningGateway.start(devices: [config], readers: ["bess-1": InProcessReader(devices)])
        let client = try #require(StreamClient(path: gateway.path))
        let hello = json(try #require(await client.line()))
        #expect(hello["type"] as? String == "hello")
        #expect(hello["schema"] as? Int == 1)
        #expect(hello["devices"] as? [String] == ["bess-1"])
        let online = try #require(await client.line { json($0)["state"] as? String == "online" })
        #expect(json(online)["models"] as? [Int] == [1, 103, 701, 124, 713, 802, 803, 804, 804, 804])
        // The live 802 reading equals the offline decode of the same registers.
        let live = json(try #require(await client.line { $0.contains("\"type\":\"reading\"") && $0.contains("\"model\":802") }))
        let values = try #require(live["values"] as? [String: Any])
        #expect(values["SoC"] as? Double == 67.5)
        #expect(live["addr"] as? Int == 40312)
        // Values the device changes show up in a later reading.
        devices.update(unit: 1) { $0.insert(.init(start: 40312 + 11, registers: [5000])) }  // 802 SoC raw, sf -2
        let changed = try #require(await client.line { $0.contains("\"model\":802") && $0.contains("\"SoC\":50,") })
        #expect(json(changed)["ts"] as? String != nil)
        // Model 1 is static: read at discovery only, in none of the next three polls.
        var polls = 0
        var model1 = 0
        while polls < 3, let line = await client.line(where: { $0.contains("\"type\":\"reading\"") }) {
            if line.contains("\"model\":802") { polls += 1 }
            if line.contains("\"model\":1,") { model1 += 1 }
        }
        #expect(polls == 3)
        #expect(model1 == 0)
        await gateway.stop()
        #expect(await client.closed())
        #expect(!FileManager.default.fileExists(atPath: gateway.path))
    }

    @Test("a late subscriber gets the latest reading of every model instance, static ones included")
    func lateSubscriber() async throws {
        let config = DeviceConfig(name: "bess-1", endpoint: .tcp(host: "sim", port: 502), interval: .milliseconds(100))
        let gateway = try await RunningGateway.start(devices: [config], readers: ["bess-1": InProcessReader(try battery())])
        // Online, and polled once since.
        let recorder = Recorder()
        gateway.hub.subscribe(recorder)
        #expect(await recorder.line { json($0)["state"] as? String == "online" } != nil)
        #expect(await recorder.line { $0.contains("\"type\":\"reading\"") && $0.contains("\"model\":802") } != nil)
        let client = try #require(StreamClient(path: gateway.path))
        var lines: [[String: Any]] = []
        while let l = await client.line(timeout: .milliseconds(50)) { lines.append(json(l)) }
        #expect(lines.first?["type"] as? String == "hello")
        #expect(lines[1]["type"] as? String == "status")
        let metas = lines.filter { $0["type"] as? String == "meta" }
        #expect(metas.count == 10)
        let readings = Set(lines.filter { $0["type"] as? String == "reading" }.compactMap { $0["addr"] as? Int })
        #expect(readings == [40002, 40070, 40122, 40277, 40303, 40312, 40376, 40500, 40676, 40852])
        await gateway.stop()
    }

    @Test("a subscriber that does not read is disconnected; the others and polling go on")
    func slowSubscriber() async throws {
        let config = DeviceConfig(name: "bess-1", endpoint: .tcp(host: "sim", port: 502), interval: .milliseconds(20))
        let gateway = try await RunningGateway.start(
            devices: [config], readers: ["bess-1": InProcessReader(try battery())], bufferLimit: 64 << 10)
        let slow = try #require(StreamClient(path: gateway.path))
        let fast = try #require(StreamClient(path: gateway.path))
        var count = 0
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(4), await fast.line(timeout: .seconds(1)) != nil { count += 1 }
        #expect(count > 500)
        #expect(await slow.closed(timeout: .seconds(2)))
        #expect(gateway.hub.subscriberCount == 1)
        await gateway.stop()
    }

    @Test("subscribers past socket.max_subscribers get one 'refused' line and are closed; the others are served")
    func subscriberCap() async throws {
        let config = DeviceConfig(name: "bess-1", endpoint: .tcp(host: "sim", port: 502), interval: .milliseconds(50))
        let gateway = try await RunningGateway.start(
            devices: [config], readers: ["bess-1": InProcessReader(try battery())], maxSubscribers: 2)
        let first = try #require(StreamClient(path: gateway.path))
        let second = try #require(StreamClient(path: gateway.path))
        #expect(await first.line() != nil)
        #expect(await second.line() != nil)
        let third = try #require(StreamClient(path: gateway.path))
        let refused = json(try #require(await third.line()))
        #expect(refused["type"] as? String == "refused")
        #expect(refused["reason"] as? String == "the gateway serves at most 2 subscribers (socket.max_subscribers)")
        #expect(await third.closed())
        #expect(await first.line { $0.contains("\"type\":\"reading\"") } != nil)
        #expect(gateway.hub.subscriberCount == 2)
        await gateway.stop()
    }

    @Test("a device refusing large reads halves max_registers and stays online")
    func refusesLargeReads() async throws {
        let reader = CountingReader(InProcessReader(try battery()), refuseAbove: 62)
        let config = DeviceConfig(name: "bess-1", endpoint: .tcp(host: "sim", port: 502), interval: .milliseconds(100))
        let gateway = try await RunningGateway.start(devices: [config], readers: ["bess-1": reader])
        let client = try #require(StreamClient(path: gateway.path))
        #expect(await client.line { json($0)["state"] as? String == "online" } != nil)
        #expect(await client.line { $0.contains("\"model\":804") && $0.contains("\"index\":2") } != nil)
        #expect(await client.line(where: { json($0)["state"] as? String == "offline" }, timeout: .milliseconds(500)) == nil)
        await gateway.stop()
        #expect(reader.reads.contains { $0.hasSuffix("refused") })
    }

    @Test("a device that goes away is offline, and online again when it is back; the gateway never exits")
    func offlineOnline() async throws {
        let devices = try battery()
        let config = DeviceConfig(name: "bess-1", endpoint: .tcp(host: "sim", port: 502), interval: .milliseconds(100))
        let gateway = try await RunningGateway.start(devices: [config], readers: ["bess-1": InProcessReader(devices)])
        let client = try #require(StreamClient(path: gateway.path))
        #expect(await client.line { json($0)["state"] as? String == "online" } != nil)
        let image = try #require(devices.image(unit: 1))
        devices.update(unit: 1) { $0 = RegisterImage() }  // every read now refused
        let offline = try #require(await client.line { json($0)["state"] as? String == "offline" })
        #expect((json(offline)["error"] as? String)?.isEmpty == false)
        devices.update(unit: 1) { $0 = image }
        #expect(await client.line(where: { json($0)["state"] as? String == "online" }, timeout: .seconds(8)) != nil)
        #expect(await client.line { $0.contains("\"type\":\"reading\"") } != nil)
        await gateway.stop()
    }

    @Test("a changed model header (firmware update) triggers a new discovery")
    func changedMap() async throws {
        let devices = try battery()
        let config = DeviceConfig(name: "bess-1", endpoint: .tcp(host: "sim", port: 502), interval: .milliseconds(100))
        let gateway = try await RunningGateway.start(devices: [config], readers: ["bess-1": InProcessReader(devices)])
        let client = try #require(StreamClient(path: gateway.path))
        #expect(await client.line { json($0)["state"] as? String == "online" } != nil)
        // The 713 model becomes a vendor model with the same length.
        devices.update(unit: 1) { $0.insert(.init(start: 40303, registers: [64999])) }
        #expect(await client.line { json($0)["state"] as? String == "discovering" } != nil)
        let online = try #require(await client.line { json($0)["state"] as? String == "online" })
        #expect((json(online)["models"] as? [Int])?.contains(64999) == true)
        await gateway.stop()
    }

    @Test("a stale socket file is replaced; a socket another gateway listens on is refused")
    func staleSocket() async throws {
        let config = DeviceConfig(name: "d", endpoint: .tcp(host: "sim", port: 502))
        let readers: [String: any RegisterReader] = ["d": InProcessReader(try battery())]
        let first = try await RunningGateway.start(devices: [config], readers: readers)
        // A second gateway on the same path must not start.
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let second = StreamServer(path: first.path, hub: Hub(devices: []), logger: logger)
        await #expect(throws: StreamServer.SocketError.self) { try await second.run() }
        var info = stat()
        #expect(stat(first.path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660)
        await first.stop()
        // A stale file (nothing listening) is replaced.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(first.path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        close(fd)
        #expect(FileManager.default.fileExists(atPath: first.path))
        let (ready, readiness) = AsyncStream<Void>.makeStream()
        let third = StreamServer(path: first.path, hub: Hub(devices: []), logger: logger) { readiness.yield() }
        let group = ServiceGroup(services: [third], logger: logger)
        let task = Task { try await group.run() }
        for await _ in ready { break }
        #expect(StreamClient(path: first.path) != nil)
        await group.triggerGracefulShutdown()
        try await task.value
    }
}
