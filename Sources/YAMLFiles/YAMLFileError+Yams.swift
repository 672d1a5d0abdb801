import Yams

extension YAMLFileError {
    /// One line for a YAML file Yams cannot read: the file, the line, and the problem without the
    /// context Yams quotes (several lines of the file).
    static func notYAML(_ error: any Error, file: String, text: String) -> YAMLFileError {
        guard let yaml = error as? YamlError else {
            return YAMLFileError(file: file, line: nil, path: "", message: "not valid YAML: \(error)")
        }
        switch yaml {
        case .reader(let problem, let offset, let value, _):
            let what = value == 0 ? "a NUL byte" : "character \(value)"
            return YAMLFileError(
                file: file, line: offset.map { line(atOffset: $0, in: text) }, path: "", message: "not valid YAML: \(problem) (\(what))")
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return YAMLFileError(file: file, line: mark.line, path: "", message: "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return YAMLFileError(
                file: file, line: context.mark.line, path: "",
                message: "\(keys) is given more than once in one mapping (first on this line)")
        default:
            return YAMLFileError(
                file: file, line: nil, path: "", message: "not valid YAML: \("\(yaml)".split(separator: "\n").first ?? "")")
        }
    }

    /// The 1-based line of a byte offset.
    static func line(atOffset offset: Int, in text: String) -> Int {
        1 + text.utf8.prefix(max(0, offset)).reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }
}
