import Gateway
import Logging
import Modbus
import ServiceLifecycle
import Testing

@Suite("Stopping the engine while devices never answer")
struct EngineShutdownTests {
    /// Where the ten devices are: each behind its own endpoint (ten links), or ten units behind one
    /// TCP gateway (one link, its requests queued one behind the other).
    enum Layout: String, CaseIterable, CustomTestStringConvertible {
        case tenEndpoints, oneEndpoint
        var testDescription: String { rawValue }
    }

    @Test(
        "graceful shutdown with ten devices that never answer (timeout 2 s) ends within one timeout and a second",
        arguments: Layout.allCases)
    func silentDevices(layout: Layout) async throws {
        let (arrivals, arrived) = AsyncStream.makeStream(of: Void.self)
        let servers = try (0..<(layout == .tenEndpoints ? 10 : 1)).map { _ in try SilentServer { arrived.yield() } }
        defer { servers.forEach { $0.stop() } }
        let devices = (0..<10).map { i in
            let server = servers[layout == .tenEndpoints ? i : 0]
            return DeviceConfig(
                name: "silent-\(i)", endpoint: .tcp(host: "127.0.0.1", port: server.port), unit: layout == .tenEndpoints ? 1 : i + 1,
                timeout: .seconds(2))
        }
        let gateway = try await RunningGateway.start(GatewayConfig(socketPath: temporarySocketPath(), devices: devices), readers: nil)
        // Every link has its first request on the wire.
        var onTheWire = 0
        for await _ in arrivals {
            onTheWire += 1
            if onTheWire == servers.count { break }
        }
        let start = ContinuousClock.now
        await gateway.stop()
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(3), "run() took \(elapsed)")
        // Nothing went on the wire after the first requests: the queued ones were cancelled.
        #expect(servers.map(\.requests) == Array(repeating: 1, count: servers.count))
    }
}
