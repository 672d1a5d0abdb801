import Foundation

/// Capture times as records carry them: UTC RFC 3339 with milliseconds (`2026-11-29T05:40:00.123Z`).
public enum Timestamp {
    /// The time in record form, or nil when `text` is not an RFC 3339 date-time.
    public static func normalized(_ text: String) -> String? {
        if isRecordForm(text) { return text }
        guard let date = parse(text) else { return nil }
        return format(date)
    }

    /// A date in record form.
    public static func format(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    private static func parse(_ text: String) -> Date? {
        let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        let without = Date.ISO8601FormatStyle()
        let upper = text.uppercased().replacingOccurrences(of: " ", with: "T")
        return (try? withFraction.parse(upper)) ?? (try? without.parse(upper))
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` exactly, checked byte by byte (the common case costs no parsing).
    private static func isRecordForm(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard b.count == 24 else { return false }
        let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22]
        for i in digits where !(48...57).contains(b[i]) { return false }
        return b[4] == 45 && b[7] == 45 && b[10] == 84 && b[13] == 58 && b[16] == 58 && b[19] == 46 && b[23] == 90
    }
}
