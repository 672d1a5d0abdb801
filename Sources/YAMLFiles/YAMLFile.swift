import Foundation
import Yams

/// Reading a YAML file (a configuration, a profile) up to its root node, every problem one
/// `YAMLFileError` line: a folder or an unreadable file, an alias bomb, text that is not YAML
/// (NUL bytes, duplicate keys, bad indentation), an empty document.
public enum YAMLFile {
    /// The text of the file at `path`.
    public static func text(atPath path: String) throws(YAMLFileError) -> String {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw YAMLFileError(file: path, line: nil, path: "", message: "a folder, not a file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw YAMLFileError(file: path, line: nil, path: "", message: "cannot read the file")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The root node of YAML text read from `file`; aliases that expand past `YAMLAliasBudget.limit`
    /// nodes are refused before the document is composed.
    public static func root(of yaml: String, file: String) throws(YAMLFileError) -> Node {
        if let line = YAMLAliasBudget.exceeded(yaml) {
            throw YAMLFileError(file: file, line: line, path: "", message: "aliases expand to more than \(YAMLAliasBudget.limit) nodes")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw YAMLFileError.notYAML(error, file: file, text: yaml)
        }
        guard let root else { throw YAMLFileError(file: file, line: nil, path: "", message: "the file is empty") }
        return root
    }
}
