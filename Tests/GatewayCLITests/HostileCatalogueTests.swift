import Foundation
import Testing

/// One hostile file given to a command that only reads it (`run --config` refuses a bad config
/// before it starts anything; `profile check` never polls).
struct HostileFile: Sendable, CustomTestStringConvertible {
    enum Kind: Sendable {
        case config, profile
    }
    let kind: Kind
    let name: String
    let bytes: [UInt8]
    /// The line the error must name, when the mistake has one.
    let line: Int?
    var testDescription: String { "\(kind) \(name)" }

    init(_ kind: Kind, _ name: String, _ text: String, line: Int? = nil) {
        self.init(kind, name, bytes: Array(text.utf8), line: line)
    }

    init(_ kind: Kind, _ name: String, bytes: [UInt8], line: Int? = nil) {
        self.kind = kind
        self.name = name
        self.bytes = bytes
        self.line = line
    }
}

/// A valid config: the device's name on line 2, its endpoint on line 3, `extra` on line 4, `top` on line 5.
private func config(
    name: String = "a", endpoint: String = "tcp: \"127.0.0.1:1502\"", extra: String = "interval: 1s",
    top: String = "socket: {path: /tmp/ssgw-catalogue-never.sock}"
) -> String {
    """
    devices:
      - name: \(name)
        \(endpoint)
        \(extra)
    \(top)
    """
}

/// A valid profile; line 9 is the point the cases change.
private func profile(point: String = "    W: {address: 4, type: s16}", defaults: String = "{unit: 1, function: holding}") -> String {
    """
    profile: catalogue
    vendor: Test
    product: Catalogue
    source: this test
    defaults: \(defaults)
    identity: {Mn: Test, Md: Catalogue}
    models:
      701:
    \(point)
        ACType: 0
    """
}

/// Values no integer setting, count, duration or address takes.
private let hostileScalars = [
    "-1", "99999999999999999999999", "-99999999999999999999999", "1e400", ".nan", ".inf", "-.inf", "'12abc'", "[1, 2]", "{a: 1}", "~",
    "''", "0x", "1.5", "\"\\0\"", "\"\\x01\\x1b[31m\"",
]

/// Text that is not a YAML document of the expected shape at all.
private let garbage: [(String, [UInt8], Int?)] = [
    ("empty file", [], nil),
    ("only a comment", Array("# nothing\n".utf8), nil),
    ("a top-level list", Array("- 1\n- 2\n".utf8), 1),
    ("a top-level scalar", Array("hello\n".utf8), 1),
    ("a NUL byte", Array("devices:\n  - {name: a\0, tcp: h}\n".utf8), 2),
    ("control characters in a key", Array("dev\u{1b}[31mices: 1\n".utf8), 1),
    ("binary garbage", (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }, nil),
    ("invalid UTF-8", [0x64, 0x3A, 0x20, 0xFF, 0xFE, 0xC3, 0x28, 0x0A], nil),
    ("a tab for indentation", Array("devices:\n\t- {name: a, tcp: h}\n".utf8), 2),
    ("an unclosed flow mapping", Array("devices: [{name: a, tcp: h\n".utf8), nil),
    ("an unclosed quote", Array("devices:\n  - {name: \"a, tcp: h}\n".utf8), nil),
    ("a 1 MB line", Array(("x" + String(repeating: "y", count: 1 << 20) + ": 1\n").utf8), 1),
    ("a 1 MB key in devices", Array(("devices:\n  - {name: a, tcp: h, " + String(repeating: "k", count: 1 << 20) + ": 1}\n").utf8), 2),
    (
        "100,000 levels of flow nesting",
        Array(("devices: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n").utf8), nil
    ),
    (
        "10,000 levels of block nesting",
        Array(((0..<10_000).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n") + " 1\n").utf8), nil
    ),
    ("an undefined alias", Array("devices: *nothing\n".utf8), nil),
    ("a duplicate key", Array("devices: []\ndevices: []\n".utf8), nil),
    ("a billion laughs (10^30 values, shared)", Array(laughs(levels: 30, at: "x-bomb").utf8), nil),
    // Yams hashes mapping keys to find duplicates, walking the whole expansion: this kept a core busy for hours.
    ("an alias bomb as a mapping key", Array((laughs(levels: 9, at: "x-bomb") + "  - {*a8: 1}\n").utf8), 7),
    ("two documents", Array("devices: []\n---\ndevices: []\n".utf8), nil),
    ("a byte-order mark then garbage", [0xEF, 0xBB, 0xBF] + Array("{{{\n".utf8), nil),
]

/// A YAML alias bomb: each anchor is a list of ten aliases of the one before.
private func laughs(levels: Int, at key: String) -> String {
    var lines = ["\(key):", "  - &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in 1..<levels { lines.append("  - &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]") }
    return lines.joined(separator: "\n") + "\n"
}

/// Values of the list that a profile key does take.
private func valid(_ key: String, _ value: String) -> Bool {
    switch key {
    case "precision": value == "-1"
    case "scale", "offset": ["-1", "1.5", "99999999999999999999999", "-99999999999999999999999"].contains(value)
    case "sentinels": value == "[1, 2]"
    default: false
    }
}

@Suite("Hostile configs and profiles: the documented status, one line naming the file, never a crash")
struct HostileCatalogueTests {
    static let configCases: [HostileFile] = {
        var cases: [HostileFile] = []
        for key in ["unit", "interval", "timeout", "base", "max_registers", "export_unit", "models"] {
            for value in hostileScalars where !(key == "models" && value == "[1, 2]") {
                cases.append(HostileFile(.config, "devices[0].\(key): \(value)", config(extra: "\(key): \(value)"), line: 4))
            }
        }
        for value in ["[1, 2]", "~", "{a: 1}", "''", "\"a\\0b\""] {
            cases.append(HostileFile(.config, "devices[0].name: \(value)", config(name: value), line: 2))
        }
        for endpoint in [
            "tcp: 'host:99999999999999999999'", "tcp: 'host:-1'", "tcp: '[::1'", "tcp: ''", "tcp: [1, 2]",
            "rtu: {port: /dev/x, baud: 1e400}",
            "rtu: {port: /dev/x, baud: 99999999999}", "rtu: {port: /dev/x, data_bits: 99999999999999999999}",
            "rtu: {port: /dev/x, parity: Z}",
            "rtu: {baud: 9600}",
        ] {
            cases.append(HostileFile(.config, "devices[0].\(endpoint)", config(endpoint: endpoint), line: 3))
        }
        for (key, value) in [
            ("quirks", "{unit_offset: 9999}"), ("quirks", "{scale_factors: {103.W_SF: 1e400}}"),
            ("quirks", "{blocks: [[0, 99999999999999999999]]}"), ("quirks", "{base: -1}"), ("registers", "x"),
            ("profile", "/nonexistent/p.yaml"),
            ("profile", "'\\0'"), ("unknown_key", "1"),
        ] {
            cases.append(HostileFile(.config, "devices[0].\(key): \(value)", config(extra: "\(key): \(value)"), line: 4))
        }
        for (key, value) in [
            ("socket", "{buffer: 1e400}"), ("socket", "{buffer: 99999999999999999999GiB}"), ("socket", "{buffer: .nan}"),
            ("socket", "{mode: 99999999999}"), ("socket", "{max_subscribers: 0}"), ("socket", "{max_subscribers: 1e400}"),
            ("export", "{modbus_tcp: {listen: '0.0.0.0:99999999999999999999'}}"),
            ("export", "{modbus_tcp: {listen: '0.0.0.0:1502', max_connections: -1}}"),
            ("export", "{modbus_tcp: {listen: '0.0.0.0:1502', idle_timeout: .inf}}"), ("x-unknown", "1"),
        ] {
            cases.append(HostileFile(.config, "\(key): \(value)", config(top: "\(key): \(value)"), line: 5))
        }
        for (name, bytes, line) in garbage { cases.append(HostileFile(.config, name, bytes: bytes, line: line)) }
        return cases
    }()

    static let profileCases: [HostileFile] = {
        var cases: [HostileFile] = []
        for key in ["address", "doc", "precision", "scale", "offset", "sentinels", "type", "word_order", "function"] {
            for value in hostileScalars where !valid(key, value) {
                let point =
                    switch key {
                    case "address": "    W: {type: s16, address: \(value)}"
                    case "type": "    W: {address: 4, type: \(value)}"
                    default: "    W: {address: 4, type: s16, \(key): \(value)}"
                    }
                cases.append(HostileFile(.profile, "701.W.\(key): \(value)", profile(point: point), line: 9))
            }
        }
        for value in ["-1", "256", "99999999999999999999999", "1e400", ".nan", "abc"] {
            cases.append(
                HostileFile(.profile, "defaults.unit: \(value)", profile(defaults: "{unit: \(value), function: holding}"), line: 5))
        }
        cases.append(HostileFile(.profile, "a constant of 1e400", profile(point: "    W: 1e400"), line: 9))
        cases.append(HostileFile(.profile, "a constant of 1e30", profile(point: "    W: 1e30"), line: 9))
        cases.append(HostileFile(.profile, "a negative constant for an enum", profile(point: "    ACType: -1"), line: 9))
        cases.append(HostileFile(.profile, "an unknown point", profile(point: "    NoSuchPoint: 1"), line: 9))
        for (name, bytes, line) in garbage { cases.append(HostileFile(.profile, name, bytes: bytes, line: line)) }
        return cases
    }()

    @Test("refused with 78 and one line naming the file (and line), no crash", arguments: configCases + profileCases)
    func refused(_ c: HostileFile) async throws {
        let folder = try CLI.temporaryDirectory()
        defer { #expect(throws: Never.self) { try FileManager.default.removeItem(at: folder) } }
        let file = folder.appendingPathComponent(c.kind == .config ? "gateway.yaml" : "p.yaml")
        try Data(c.bytes).write(to: file)
        let arguments = c.kind == .config ? ["run", "--config", file.path] : ["profile", "check", file.path]
        let result = try await CLI.run(arguments, timeout: .seconds(20))
        #expect(result.status < 128, "crashed: \(result.stderr.prefix(300))")
        #expect(result.status == 78, "\(result.stderr.prefix(300))")
        #expect(result.stderr.split(separator: "\n", omittingEmptySubsequences: false).count == 2, "\(result.stderr.prefix(600))")
        #expect(result.stderr.hasPrefix("\(file.path):\(c.line.map { "\($0):" } ?? "")"), "\(result.stderr.prefix(300))")
        #expect(result.stdout.isEmpty)
    }
}
