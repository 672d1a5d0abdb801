import Foundation
import Testing

/// The systemd side: the unit file verifies, and the binary speaks sd_notify over NOTIFY_SOCKET.
@Suite("systemd: the unit file and sd_notify")
struct ServiceUnitTests {
    @Test("packaging/sunspec-gateway.service passes systemd-analyze verify (with ExecStart on the built binary)")
    func unitVerifies() async throws {
        let analyze = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        try #require(FileManager.default.isExecutableFile(atPath: analyze.path), "systemd-analyze is missing: make deps installs systemd")
        let unit = try String(contentsOf: CLI.repository.appendingPathComponent("packaging/sunspec-gateway.service"), encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/sunspec-gateway run --config /etc/sunspec-gateway/gateway.yaml"))
        for option in [
            "Type=notify", "WatchdogSec=", "Restart=on-failure", "ProtectSystem=strict", "NoNewPrivileges=yes",
            "SupplementaryGroups=dialout", "RuntimeDirectory=sunspec-gateway", "User=sunspec-gateway",
        ] {
            #expect(unit.contains(option), "\(option)")
        }
        let folder = try CLI.temporaryDirectory()
        let copy = folder.appendingPathComponent("sunspec-gateway.service")
        try unit.replacingOccurrences(of: "/usr/local/bin/sunspec-gateway", with: CLI.binary.path).write(
            to: copy, atomically: true, encoding: .utf8)
        let result = try await CLI.run(["verify", copy.path], executable: analyze, in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty && result.stdout.isEmpty, "\(result.stderr)\(result.stdout)")
    }

    @Test("under NOTIFY_SOCKET the gateway sends READY=1 once serving, then WATCHDOG=1 at half WATCHDOG_USEC")
    func notifies() async throws {
        let folder = try CLI.temporaryDirectory()
        let notifyPath = folder.appendingPathComponent("notify").path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in notifyPath.utf8.enumerated() { raw[i] = b } }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        // Waiting for a datagram is bounded: 10 s, then the test fails instead of hanging.
        var limit = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let config = folder.appendingPathComponent("gateway.yaml")
        let socketPath = folder.appendingPathComponent("readings.sock").path
        try "socket: {path: \(socketPath)}\ndevices:\n  - {name: a, tcp: \"127.0.0.1:1\", interval: 1s}\n".write(
            to: config, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = ["run", "--config", config.path, "--log-level", "critical"]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notifyPath
        environment["WATCHDOG_USEC"] = "400000"
        environment.removeValue(forKey: "WATCHDOG_PID")
        process.environment = environment
        try process.run()
        defer {
            // Killed, not terminated: a child spawned from a thread with SIGTERM blocked inherits the
            // mask, and then never hears a SIGTERM (seen once: the wait below hung). This test is about
            // READY=1 and WATCHDOG=1 only; graceful shutdown has tests of its own.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        // The datagrams are waited for on a thread of its own: a blocking recv on Swift's cooperative
        // pool (two threads here) would stall the other suites' tasks meanwhile.
        let heard = await withCheckedContinuation { (done: CheckedContinuation<[String], Never>) in
            Thread {
                func next() -> String? {
                    var buffer = [UInt8](repeating: 0, count: 256)
                    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
                }
                var heard: [String] = []
                while heard.filter({ $0 == "WATCHDOG=1" }).count < 2, let message = next() { heard.append(message) }
                done.resume(returning: heard)
            }.start()
        }
        #expect(heard.contains("READY=1"))
        #expect(heard.filter { $0 == "WATCHDOG=1" }.count == 2)
        // Ready means serving: the stream's socket is there.
        #expect(FileManager.default.fileExists(atPath: socketPath))
    }

    @Test("a metrics address already taken: exit 69 with a line naming it, as for the stream's socket")
    func metricsPortTaken() async throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0 && listen(fd, 1) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let folder = try CLI.temporaryDirectory()
        let config = folder.appendingPathComponent("gateway.yaml")
        try """
        socket: {path: \(folder.appendingPathComponent("readings.sock").path)}
        metrics: {listen: "127.0.0.1:\(port)"}
        devices:
          - {name: a, tcp: "127.0.0.1:1"}

        """.write(to: config, atomically: true, encoding: .utf8)
        let result = try await CLI.run(["run", "--config", config.path], timeout: .seconds(20))
        #expect(result.status == 69)
        let errors = result.stderr.split(separator: "\n").filter { $0.contains("metrics on 127.0.0.1:\(port): cannot listen") }
        #expect(!errors.isEmpty, "\(result.stderr)")
    }
}
