import Foundation
import SunSpec

extension Timestamp {
    /// The time in record form, or nil when `text` is not an RFC 3339 date-time.
    public static func normalized(_ text: String) -> String? {
        if isRecordForm(text) { return text }
        guard let date = parse(text) else { return nil }
        return format(date)
    }

    /// A date in record form: its whole seconds and milliseconds truncated as Foundation's ISO 8601
    /// style takes them (the fraction of `timeIntervalSinceReferenceDate`, floored).
    public static func format(_ date: Date) -> String {
        let sinceReference = date.timeIntervalSinceReferenceDate
        let whole = sinceReference.rounded(.down)
        let milliseconds = Int(((sinceReference - whole) * 1000).rounded(.down))
        return format(secondsSince1970: Int64(whole) + 978_307_200, milliseconds: milliseconds)
    }

    /// A date-time in any RFC 3339 form (`t` or a space, fractions or none, any offset).
    private static func parse(_ text: String) -> Date? {
        let upper = text.uppercased().replacingOccurrences(of: " ", with: "T")
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(upper) { return date }
        return try? Date.ISO8601FormatStyle().parse(upper)
    }
}
