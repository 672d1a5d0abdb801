import ArgumentParser
import Foundation
import Gateway
import SunSpec

/// `sunspec-gateway control --socket PATH set|get|release|capabilities ...`: one request to a running
/// gateway's control socket; prints the answer line.
struct ControlCommand: ParsableCommand {
    /// `--socket` and `--wait` given before the request's name (`control --socket PATH set ...`).
    @OptionGroup var connection: Connection

    static let configuration = CommandConfiguration(
        commandName: "control",
        abstract: "Send one control request to a running gateway and print its answer.",
        discussion: """
            Exit status: 0 applied (or answered, for get and capabilities); 1 not_applied; 2 timeout; \
            3 device_exception; 4 offline; 5 busy; 6 rate_limited; 7 precondition; 8 out_of_range; \
            9 not_representable; 10 not_allowed; 11 unknown_point; 12 unknown_device; 64 bad_request or \
            usage; 69 the socket does not answer; 76 an answer that is not one.
            """,
        subcommands: [Set.self, Get.self, Release.self, Capabilities.self]
    )

    struct Connection: ParsableArguments {
        @Option(help: "The gateway's control socket (default /run/sunspec-gateway/control.sock).")
        var socket: String?

        @Option(help: "How long to wait for the answer: the write, the settle time and the read-back (default 60s).")
        var wait: String?

        /// These options where given, else the parent's, else the defaults.
        func or(_ parent: Connection) -> (socket: String, wait: String) {
            (socket ?? parent.socket ?? "/run/sunspec-gateway/control.sock", wait ?? parent.wait ?? "60s")
        }
    }

    /// The device and point a request is about (`set`, `get`, `release`).
    struct Target: ParsableArguments {
        @Argument(help: "The device's name.") var device: String
        @Argument(help: "The point: MODEL.POINT, MODEL[i].POINT or MODEL.GROUP[j].POINT.") var point: String
    }

    struct Set: ParsableCommand {
        @ParentCommand var parent: ControlCommand
        static let configuration = CommandConfiguration(abstract: "Write a value (engineering units, or an enum symbol).")
        @OptionGroup var connection: Connection
        @OptionGroup var target: Target
        /// One value; taken as typed, so a negative number (`-10`) is a value, not an option.
        @Argument(parsing: .allUnrecognized, help: "The value: a number in the point's units, or an enum symbol.") var value: [String]
        @Option(help: "Revert to the point's revert value after this long (30s, 5m).") var ttl: String?

        func run() throws {
            guard value.count == 1 else {
                printError("set takes one value, not \(value.count): \(value.joined(separator: " "))")
                throw ExitCode(64)
            }
            try ControlCommand.send(
                op: "set", device: target.device, point: target.point, value: value[0], ttl: ttl,
                connection: connection.or(parent.connection))
        }
    }

    struct Get: ParsableCommand {
        @ParentCommand var parent: ControlCommand
        static let configuration = CommandConfiguration(abstract: "Read an allowed point from the device now.")
        @OptionGroup var connection: Connection
        @OptionGroup var target: Target

        func run() throws {
            try ControlCommand.send(op: "get", device: target.device, point: target.point, connection: connection.or(parent.connection))
        }
    }

    struct Release: ParsableCommand {
        @ParentCommand var parent: ControlCommand
        static let configuration = CommandConfiguration(abstract: "Write the point's revert value now.")
        @OptionGroup var connection: Connection
        @OptionGroup var target: Target

        func run() throws {
            try ControlCommand.send(op: "release", device: target.device, point: target.point, connection: connection.or(parent.connection))
        }
    }

    struct Capabilities: ParsableCommand {
        @ParentCommand var parent: ControlCommand
        static let configuration = CommandConfiguration(abstract: "The device's allowed points, limits and last values.")
        @OptionGroup var connection: Connection
        @Argument(help: "The device's name.") var device: String

        func run() throws { try ControlCommand.send(op: "capabilities", device: device, connection: connection.or(parent.connection)) }
    }

    /// Sends one request line and prints the answer; exits with the answer's status.
    static func send(
        op: String, device: String, point: String? = nil, value: String? = nil, ttl: String? = nil,
        connection: (socket: String, wait: String)
    ) throws {
        guard let wait = DurationText.parse(connection.wait), wait > .zero else {
            printError("--wait \(connection.wait): not a duration (60s, 2m)")
            throw ExitCode(64)
        }
        var line = JSONBuffer(capacity: 256)
        line.raw("{\"id\":")
        line.string("cli-\(getpid())")
        line.raw(",\"op\":")
        line.string(op)
        line.raw(",\"device\":")
        line.string(device)
        if let point {
            line.raw(",\"point\":")
            line.string(point)
        }
        if let value {
            line.raw(",\"value\":")
            if let number = ExactDecimal(parsing: value) { line.decimal(number) } else { line.string(value) }
        }
        if let ttl {
            line.raw(",\"ttl\":")
            line.string(ttl)
        }
        line.raw("}\n")
        let answer: [UInt8]
        switch ControlClientSocket.exchange(line.bytes, path: connection.socket, wait: wait) {
        case .failure(let error):
            printError("\(connection.socket): \(error.message)")
            throw ExitCode(69)
        case .success(let bytes):
            answer = bytes
        }
        FileHandle.standardOutput.write(Data(answer))
        guard let result = ControlClientSocket.result(of: answer) else {
            printError("\(connection.socket): the answer is not a control answer")
            throw ExitCode(76)
        }
        let status = result.exitStatus
        if status != 0 { throw ExitCode(status) }
    }
}
