import Foundation
import Testing

/// Runs the built `sunspec-gateway` binary and captures what it prints.
struct CLI {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The binary built beside the test bundle.
    static var binary: URL {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [bundleDirectory, repository.appendingPathComponent(".build/debug")] {
            let candidate = dir.appendingPathComponent("sunspec-gateway")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return repository.appendingPathComponent(".build/debug/sunspec-gateway")
    }

    /// Runs the gateway (or another executable) with arguments from the repository folder. The
    /// waiting happens on a thread of its own, never on Swift's cooperative pool (other suites run
    /// gateways in-process there).
    /// A `timeout` terminates the process when it runs longer (its status is then SIGTERM's).
    static func run(
        _ arguments: [String], executable: URL = binary, in directory: URL = repository, timeout: Duration? = nil
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(
                    with: Swift.Result { try runBlocking(arguments, executable: executable, in: directory, timeout: timeout) })
            }
            thread.start()
        }
    }

    private static func runBlocking(_ arguments: [String], executable: URL, in directory: URL, timeout: Duration?) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        if let timeout {
            let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [process] in
                if process.isRunning { process.terminate() }
            }
        }
        // stderr stays small (one line per problem), far below a pipe's buffer: read stdout first.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// `sunspec-gateway simulate CAPTURE --tcp 127.0.0.1:PORT` in the background (at most 20 s).
    static func simulate(_ capture: String, port: Int) throws -> Process {
        let simulator = Process()
        simulator.executableURL = binary
        simulator.arguments = ["simulate", capture, "--tcp", "127.0.0.1:\(port)", "--duration", "20s"]
        simulator.currentDirectoryURL = repository
        simulator.standardOutput = FileHandle.nullDevice
        try simulator.run()
        return simulator
    }

    /// A new empty temporary folder.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ssgw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Parses one JSON line.
func object(_ line: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
}
