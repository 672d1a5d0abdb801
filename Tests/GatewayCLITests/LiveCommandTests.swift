import Foundation
import Testing

@Suite("sunspec-gateway run, demo, scan and simulate", .serialized)
struct LiveCommandTests {
    @Test("a bad configuration is status 78 with one line naming file, line and key")
    func badConfig() async throws {
        let dir = try CLI.temporaryDirectory()
        let file = dir.appendingPathComponent("gateway.yaml")
        try "devices:\n  - {name: a, tcp: \"127.0.0.1:1\", interval: 5x}\n".write(to: file, atomically: true, encoding: .utf8)
        let result = try await CLI.run(["run", "--config", file.path])
        #expect(result.status == 78)
        #expect(result.stderr == "\(file.path):2: devices[0].interval: '5x' is not a duration (1s, 500ms, 2m)\n")
        let missing = try await CLI.run(["run", "--config", dir.appendingPathComponent("nope.yaml").path])
        #expect(missing.status == 78)
    }

    @Test("the demo polls the simulated system through libmodbus and mirrors its stream")
    func demo() async throws {
        let result = try await CLI.run(["demo", "--duration", "3s"])
        #expect(result.status == 0)
        let lines = result.lines
        #expect(lines.first?.hasPrefix(#"{"type":"hello","schema":1,"gateway":"sunspec-gateway""#) == true)
        #expect(lines.contains { $0.contains(#""device":"demo-bess""#) && $0.contains(#""state":"online""#) })
        #expect(lines.contains { $0.contains(#""device":"demo-legacy""#) && $0.contains(#""state":"online""#) })
        #expect(lines.filter { $0.contains(#""type":"reading""#) && $0.contains(#""model":802"#) }.count >= 2)
        #expect(result.stderr.contains("stream: "))
        // The temporary socket is gone.
        let path = result.stderr.split(separator: "\n").first { $0.hasPrefix("stream: ") }.map {
            String($0.dropFirst(8).prefix { $0 != " " })
        }
        #expect(path.map { !FileManager.default.fileExists(atPath: $0) } == true)
    }

    @Test("scan finds the simulator's models; --dump writes a capture decode reads back")
    func scanSimulator() async throws {
        let port = 21000 + Int(getpid() % 1000)
        let simulator = try await CLI.simulate("Fixtures/battery-inverter.json", port: port)
        defer { simulator.terminate() }
        let scan = try await CLI.run(["scan", "--tcp", "127.0.0.1:\(port)", "--unit", "1", "--json"])
        #expect(scan.status == 0)
        let report = try object(scan.stdout)
        #expect(
            (report["models"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } == [1, 103, 701, 124, 713, 802, 803, 804, 804, 804])
        #expect((report["transactions"] as? Int ?? 99) <= 12)
        let dump = try CLI.temporaryDirectory().appendingPathComponent("dump.json")
        let dumped = try await CLI.run(["scan", "--tcp", "127.0.0.1:\(port)", "--dump", dump.path])
        #expect(dumped.status == 0)
        let fromDevice = try await CLI.run(["decode", "--device", "x", dump.path])
        let fromFixture = try await CLI.run(["decode", "--device", "x", "Fixtures/battery-inverter.json"])
        func values(_ lines: [String]) throws -> [String] {
            try lines.map { line in
                let o = try object(line)
                let values = try JSONSerialization.data(withJSONObject: o["values"] ?? [:], options: [.sortedKeys])
                return "\(o["addr"] ?? "")" + String(decoding: values, as: UTF8.self)
            }
        }
        #expect(try values(fromDevice.lines) == values(fromFixture.lines))
        let nobody = try await CLI.run(["scan", "--tcp", "127.0.0.1:\(port)", "--unit", "5"])
        #expect(nobody.status == 69)
        #expect(nobody.stderr.contains("exception 11"))
    }

    @Test("SIGTERM stops run cleanly: subscribers get their last lines, the socket is removed")
    func sigterm() async throws {
        let port = 22000 + Int(getpid() % 1000)
        let simulator = try await CLI.simulate("Fixtures/legacy-storage.json", port: port)
        defer { simulator.terminate() }
        let dir = try CLI.temporaryDirectory()
        let socketPath = dir.appendingPathComponent("r.sock").path
        let config = dir.appendingPathComponent("g.yaml")
        try "socket: {path: \(socketPath)}\ndevices:\n  - {name: legacy, tcp: \"127.0.0.1:\(port)\", unit: 1, interval: 200ms}\n"
            .write(to: config, atomically: true, encoding: .utf8)
        let gateway = Process()
        gateway.executableURL = CLI.binary
        gateway.arguments = ["run", "--config", config.path, "--mirror", "--log-level", "error"]
        let out = Pipe()
        gateway.standardOutput = out
        try gateway.run()
        let output = OutputLines(out.fileHandleForReading)
        // Online and polled: a reading after the status.
        #expect(await output.wait { $0.contains(#""type":"reading""#) && $0.contains(#""model":124"#) })
        #expect(FileManager.default.fileExists(atPath: socketPath))
        kill(gateway.processIdentifier, SIGTERM)
        let lines = await output.all()
        await withCheckedContinuation { continuation in
            Thread {
                gateway.waitUntilExit()
                continuation.resume()
            }.start()
        }
        #expect(gateway.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: socketPath))
        #expect(lines.first?.hasPrefix(#"{"type":"hello""#) == true)
        #expect(lines.contains { $0.contains(#""state":"online""#) })
        #expect(lines.last?.hasSuffix("}") == true)
    }

    @Test(
        "SIGTERM with ten devices that never answer (timeout 2 s) exits within one timeout and a second",
        arguments: [10, 1])
    func sigtermSilentDevices(endpoints: Int) async throws {
        let (arrivals, arrived) = AsyncStream.makeStream(of: Void.self)
        let servers = try (0..<endpoints).map { _ in try SilentServer { arrived.yield() } }
        defer { servers.forEach { $0.stop() } }
        let dir = try CLI.temporaryDirectory()
        let config = dir.appendingPathComponent("g.yaml")
        // Ten devices on ten endpoints, or ten units behind one endpoint (one link, requests queued).
        let devices = (0..<10).map { i in
            "  - {name: silent-\(i), tcp: \"127.0.0.1:\(servers[i % endpoints].port)\", unit: \(i / endpoints + 1), timeout: 2s}\n"
        }
        try ("socket: {path: \(dir.appendingPathComponent("r.sock").path)}\ndevices:\n" + devices.joined())
            .write(to: config, atomically: true, encoding: .utf8)
        let gateway = Process()
        gateway.executableURL = CLI.binary
        gateway.arguments = ["run", "--config", config.path, "--log-level", "critical"]
        gateway.standardOutput = FileHandle.nullDevice
        let (exits, exited) = AsyncStream.makeStream(of: Void.self)
        gateway.terminationHandler = { _ in exited.yield() }
        try gateway.run()
        // Every endpoint has its first request on the wire.
        var onTheWire = 0
        for await _ in arrivals {
            onTheWire += 1
            if onTheWire == endpoints { break }
        }
        let start = ContinuousClock.now
        kill(gateway.processIdentifier, SIGTERM)
        for await _ in exits { break }
        let elapsed = ContinuousClock.now - start
        #expect(gateway.terminationStatus == 0)
        #expect(elapsed < .seconds(3), "exit took \(elapsed)")
        #expect(servers.map(\.requests) == Array(repeating: 1, count: endpoints))
    }
}
