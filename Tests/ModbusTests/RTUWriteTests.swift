import Foundation
import Modbus
import Testing

/// Two ends of a pty pair from `socat -d -d pty,raw,echo=0 pty,raw,echo=0`: a serial line in memory.
final class PtyPair {
    let ends: [String]
    private let process: Process

    init() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/socat")
        process.arguments = ["-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"]
        let err = Pipe()
        process.standardError = err
        try process.run()
        self.process = process
        // socat names each end on stderr ("... N PTY is /dev/pts/7"); the rest of its output is drained.
        let handle = err.fileHandleForReading
        ends = await withCheckedContinuation { (named: CheckedContinuation<[String], Never>) in
            Thread {
                var text = ""
                var ends: [String] = []
                var resumed = false
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    text += String(decoding: chunk, as: UTF8.self)
                    if !resumed {
                        ends = text.split(separator: "\n").compactMap { line in
                            line.range(of: "PTY is ").map { String(line[$0.upperBound...]) }
                        }
                        if ends.count == 2 {
                            resumed = true
                            named.resume(returning: ends)
                        }
                    }
                }
                if !resumed { named.resume(returning: ends) }
            }.start()
        }
    }

    /// Ends socat: killed outright (left with a pty end open, it outlived SIGTERM here).
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite("RTU writes over a socat pty pair", .serialized)
struct RTUWriteTests {
    @Test("FC16 and FC6 reach the RTU server; a unit that never answers times out, is not sent again, and the line goes on")
    func writes() async throws {
        let pty = try await PtyPair()
        defer { pty.stop() }
        try #require(pty.ends.count == 2, "socat did not open a pty pair")
        let source = WritableTestSource()
        let server = ModbusRTUServer(settings: SerialSettings(port: pty.ends[0], baud: 115_200), unit: 1, source: source)
        try server.start()
        defer { server.stop() }
        let link = ModbusLink(endpoint: .rtu(SerialSettings(port: pty.ends[1], baud: 115_200)), timeout: .milliseconds(500))
        try await link.write(unit: 1, address: 40010, registers: [100, 200, 300])
        try await link.write(unit: 1, address: 40020, registers: [7, 8], function: .single)
        #expect(try await link.read(unit: 1, address: 40010, count: 3) == [100, 200, 300])
        #expect(try await link.read(unit: 1, address: 40020, count: 2) == [7, 8])
        let refused = await #expect(throws: ModbusError.self) { try await link.write(unit: 1, address: 40299, registers: [1, 2]) }
        #expect(refused?.kind == .exception(2))
        // The server serves unit 1 only: libmodbus drops requests for unit 2 unanswered.
        let before = server.requests
        let silent = await #expect(throws: ModbusError.self) {
            try await link.write(unit: 2, address: 40000, registers: [1], function: .single)
        }
        #expect(silent?.kind == .timeout)
        try await link.write(unit: 1, address: 40000, registers: [55], function: .single)
        #expect(server.requests == before + 1)
        #expect(try await link.read(unit: 1, address: 40000, count: 1) == [55])
        #expect(source.writes.withLock { $0.count } == 4)
        await link.shutdown()
    }
}
