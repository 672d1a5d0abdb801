import Foundation
import SunSpec

/// Loads official-format SunSpec JSON model files from a folder (vendor or newer models).
public enum ModelFiles {
    /// A catalog of the built-in models overridden by every `*.json` file in `directory`.
    /// A malformed file is an error naming the file and the problem.
    public static func catalog(directory: String) throws(CaptureError) -> ModelCatalog {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw CaptureError(directory, "cannot read the models folder: \(error.localizedDescription)")
        }
        var overrides: [Int: ModelDefinition] = [:]
        var origin: [Int: String] = [:]
        for name in names.sorted() where name.hasSuffix(".json") && name != "schema.json" {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CaptureError(path, "cannot read the file")
            }
            let model: ModelDefinition
            do {
                model = try ModelDefinition(json: data)
            } catch {
                throw CaptureError(path, error.message)
            }
            if let other = origin[model.id] {
                throw CaptureError(path, "model \(model.id) is also defined in \(other)")
            }
            overrides[model.id] = model
            origin[model.id] = path
        }
        return ModelCatalog(overrides: overrides)
    }
}
