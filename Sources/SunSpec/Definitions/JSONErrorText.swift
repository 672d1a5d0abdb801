import Foundation

/// One-line descriptions of JSON decoding errors: the key path for a wrong value, the character
/// offset for a syntax error.
public enum JSONErrorText {
    /// Describes a `DecodingError` raised while decoding `data`.
    public static func describe(_ error: DecodingError, in data: Data) -> String {
        func path(_ context: DecodingError.Context) -> String {
            var p = ""
            for key in context.codingPath {
                if let i = key.intValue { p += "[\(i)]" } else { p += p.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return p
        }
        func at(_ context: DecodingError.Context) -> String {
            let p = path(context)
            return p.isEmpty ? "" : "\(p): "
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "\(at(context))missing key '\(key.stringValue)'"
        case .typeMismatch(let type, let context):
            let expected = type == Int.self ? "an integer" : type == String.self ? "a string" : "\(type)"
            return "\(at(context))expected \(expected)"
        case .valueNotFound(_, let context):
            return "\(at(context))value is null"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return syntax(data) }
            return "\(at(context))\(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    /// The syntax error in `data`, with its character offset, as the JSON parser reports it.
    public static func syntax(_ data: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return "invalid JSON"
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            return "invalid JSON: " + (detail ?? "\(error)").trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
    }
}
