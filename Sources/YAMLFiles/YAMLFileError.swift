/// A mistake in a YAML file (a profile, a configuration): file, line and key path, and what is wrong.
public struct YAMLFileError: Error, Sendable, CustomStringConvertible {
    /// The file.
    public let file: String
    /// 1-based line, when known.
    public let line: Int?
    /// Key path (`models.802.SoC.type`).
    public let path: String
    /// What is wrong.
    public let message: String

    /// Creates an error.
    public init(file: String, line: Int?, path: String, message: String) {
        self.file = file
        self.line = line
        self.path = path
        self.message = message
    }

    /// One line, whatever the file held: control characters (a newline in a key) are escaped and a
    /// key path or message past 200 characters is cut.
    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return path.isEmpty ? "\(place): \(Self.oneLine(message))" : "\(place): \(Self.oneLine(path)): \(Self.oneLine(message))"
    }

    static func oneLine(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(200) {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return text.unicodeScalars.count > 200 ? out + "..." : out
    }
}
