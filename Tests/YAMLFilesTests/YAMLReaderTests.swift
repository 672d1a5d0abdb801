import Foundation
import Testing
import YAMLFiles
import Yams

/// A reader with no schema of its own, to try the primitives on.
private struct Reader: YAMLReader {
    let file = "f.yaml"
}

/// The error `body` throws on the root of `yaml`, as its line.
private func error(_ yaml: String, _ body: (Reader, Node) throws(YAMLFileError) -> Void) -> String? {
    do {
        try body(Reader(), try YAMLFile.root(of: yaml, file: "f.yaml"))
        return nil
    } catch {
        return error.description
    }
}

@Suite("YAML file errors stay one line")
struct YAMLFileErrorLineTests {
    @Test("a key with newlines (found by make fuzz) is escaped; a long one is cut")
    func escaped() {
        let error = YAMLFileError(file: "f.yaml", line: 1, path: "socket.a\n\nb", message: "unknown key")
        #expect(error.description == "f.yaml:1: socket.a\\u{a}\\u{a}b: unknown key")
        let long = YAMLFileError(file: "f.yaml", line: 2, path: String(repeating: "k", count: 500), message: "m")
        #expect(long.description == "f.yaml:2: \(String(repeating: "k", count: 200))...: m")
    }
}

@Suite("The YAML primitives both file kinds share")
struct YAMLReaderTests {
    @Test("mappings: unknown keys, keys given twice, in the file's order")
    func mappings() throws {
        #expect(
            error("a: 1\nb: 2\n") { (r, n) throws(YAMLFileError) in _ = try r.mapping(n, "top", allowed: ["a"]) }
                == "f.yaml:2: top.b: unknown key (known: a)")
        #expect(
            error("1: x\n'1': y\n") { (r, n) throws(YAMLFileError) in _ = try r.mapping(n, "", allowed: nil) } == "f.yaml:2: 1: given twice"
        )
        #expect(error("[1]\n") { (r, n) throws(YAMLFileError) in _ = try r.mapping(n, "", allowed: nil) } == "f.yaml:1: expected a mapping")
        #expect(
            error("? [1]\n: x\n") { (r, n) throws(YAMLFileError) in _ = try r.mapping(n, "m", allowed: nil) }
                == "f.yaml:1: m: keys must be strings or numbers")
        let root = try YAMLFile.root(of: "c: 3\na: 1\nb: 2\n", file: "f.yaml")
        let mapping = try Reader().mapping(root, "", allowed: nil)
        #expect(mapping.map(\.name) == ["c", "a", "b"])
        #expect(mapping["a"]?.scalar?.string == "1")
        #expect(mapping["z"] == nil)
    }

    @Test("strings: null and control characters refused; text keeps line breaks and tabs")
    func strings() {
        for (yaml, message) in [
            ("~", "f.yaml:1: s: expected a string"), ("''", "f.yaml:1: s: expected a string"),
            ("\"a\\0b\"", "f.yaml:1: s: contains a control character"), ("\"a\\nb\"", "f.yaml:1: s: contains a control character"),
        ] {
            #expect(error(yaml) { (r, n) throws(YAMLFileError) in _ = try r.string(n, "s") } == message)
        }
        #expect(error("\"a\\n\\tb\"") { (r, n) throws(YAMLFileError) in _ = try r.text(n, "s") } == nil)
        #expect(
            error("\"a\\e[31m\"") { (r, n) throws(YAMLFileError) in _ = try r.text(n, "s") } == "f.yaml:1: s: contains a control character")
    }

    @Test("integers in a range, numbers, booleans")
    func scalars() {
        var value = 0
        #expect(error("0x1_0") { (r, n) throws(YAMLFileError) in value = try r.integer(n, "i", 0...16) } == nil)
        #expect(value == 16)
        #expect(error("17") { (r, n) throws(YAMLFileError) in _ = try r.integer(n, "i", 0...16) } == "f.yaml:1: i: 17 is outside 0...16")
        #expect(
            error("300") { (r, n) throws(YAMLFileError) in _ = try r.integer(n, "i", UInt8.min...UInt8.max) }
                == "f.yaml:1: i: 300 is outside 0...255")
        #expect(error("1.5") { (r, n) throws(YAMLFileError) in _ = try r.integer(n, "i", 0...16) } == "f.yaml:1: i: expected an integer")
        #expect(error("1e400") { (r, n) throws(YAMLFileError) in _ = try r.number(n, "x") } == "f.yaml:1: x: expected a number")
        #expect(error("yes") { (r, n) throws(YAMLFileError) in _ = try r.bool(n, "b") } == "f.yaml:1: b: expected true or false")
    }
}

@Suite("Reading a YAML file")
struct YAMLFileTests {
    @Test("a folder, a missing file, an empty one, an alias bomb: one line each")
    func files() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ssgw-yaml-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { #expect(throws: Never.self) { try FileManager.default.removeItem(at: folder) } }
        #expect(throws: YAMLFileError.self) { try YAMLFile.text(atPath: folder.path) }
        do {
            _ = try YAMLFile.text(atPath: folder.path)
        } catch {
            #expect(error.description == "\(folder.path): a folder, not a file")
        }
        do {
            _ = try YAMLFile.text(atPath: folder.appendingPathComponent("none.yaml").path)
        } catch {
            #expect(error.description == "\(folder.path)/none.yaml: cannot read the file")
        }
        #expect(error("# nothing\n") { _, _ in } == "f.yaml: the file is empty")
        var bomb = ["a:", "  - &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for i in 1..<7 { bomb.append("  - &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]") }
        #expect(error(bomb.joined(separator: "\n") + "\n") { _, _ in } == "f.yaml:7: aliases expand to more than 1000000 nodes")
    }
}
