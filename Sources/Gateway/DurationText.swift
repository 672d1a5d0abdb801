import Foundation

/// Durations as people write them in configs and flags: `1s`, `500ms`, `2m`, `1.5s`, `250us`.
public enum DurationText {
    /// The longest duration text may give (about 31 years): past it, the text is not a duration (and
    /// no arithmetic on one can overflow).
    public static let longest: Duration = .seconds(1_000_000_000)

    /// The duration, or nil when `text` is not one (not finite, negative, or past `longest`).
    public static func parse(_ text: String) -> Duration? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 1e-3), ("us", 1e-6), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let n = Double(t.dropLast(suffix.count)), n.isFinite, n >= 0, n * scale <= 1e9 else { return nil }
            return .microseconds(Int64((n * scale * 1_000_000).rounded()))
        }
        return nil
    }

    /// `1s`, `500ms`.
    public static func format(_ d: Duration) -> String {
        let micros = d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
        if micros % 1_000_000 == 0 { return "\(micros / 1_000_000)s" }
        if micros % 1000 == 0 { return "\(micros / 1000)ms" }
        return "\(micros)us"
    }
}
