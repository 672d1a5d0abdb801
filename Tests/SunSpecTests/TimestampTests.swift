import Testing

@testable import SunSpec

@Suite("Record timestamps, without Foundation")
struct TimestampTests {
    @Test(
        "seconds since 1970 and milliseconds in record form",
        arguments: [
            (Int64(0), 0, "1970-01-01T00:00:00.000Z"),
            (-1, 999, "1969-12-31T23:59:59.999Z"),
            (951_782_400, 500, "2000-02-29T00:00:00.500Z"),
            (951_868_799, 1, "2000-02-29T23:59:59.001Z"),
            (4_107_542_400, 999, "2100-03-01T00:00:00.999Z"),
            (4_107_456_000, 0, "2100-02-28T00:00:00.000Z"),
            (1_798_761_599, 123, "2026-12-31T23:59:59.123Z"),
            (1_798_761_600, 0, "2027-01-01T00:00:00.000Z"),
            (1_709_164_800, 42, "2024-02-29T00:00:00.042Z"),
            (253_402_300_799, 999, "9999-12-31T23:59:59.999Z"),
            (-62_167_219_200, 0, "0000-01-01T00:00:00.000Z"),
            (-2_208_988_800, 7, "1900-01-01T00:00:00.007Z"),
        ])
    func format(seconds: Int64, milliseconds: Int, expected: String) {
        #expect(Timestamp.format(secondsSince1970: seconds, milliseconds: milliseconds) == expected)
        #expect(Timestamp.isRecordForm(expected))
    }

    @Test("every day of 400 years (one Gregorian cycle) follows the one before")
    func consecutiveDays() {
        var previous = Timestamp.civilDate(daysSince1970: -1)
        #expect(previous == (1969, 12, 31))
        for days in Int64(0)..<146_097 {
            let date = Timestamp.civilDate(daysSince1970: days)
            let leap = previous.year % 4 == 0 && (previous.year % 100 != 0 || previous.year % 400 == 0)
            let monthLength = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][previous.month - 1]
            let expected: (Int64, Int, Int) =
                previous.day < monthLength
                ? (previous.year, previous.month, previous.day + 1)
                : previous.month < 12 ? (previous.year, previous.month + 1, 1) : (previous.year + 1, 1, 1)
            if date != expected {
                Issue.record("day \(days): \(date), expected \(expected)")
                return
            }
            previous = date
        }
        #expect(previous == (2369, 12, 31))
    }

    @Test("record form is exactly YYYY-MM-DDTHH:MM:SS.mmmZ")
    func recordForm() {
        #expect(!Timestamp.isRecordForm("2026-11-29T05:40:00Z"))
        #expect(!Timestamp.isRecordForm("2026-11-29 05:40:00.123Z"))
        #expect(!Timestamp.isRecordForm("2026-11-29T05:40:00.123+00:00"))
    }
}
