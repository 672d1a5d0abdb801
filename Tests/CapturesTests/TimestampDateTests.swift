import Captures
import Foundation
import SunSpec
import Testing

@Suite("Record timestamps from dates: byte for byte what Foundation's ISO 8601 style wrote")
struct TimestampDateTests {
    /// The formatting `Timestamp.format(_: Date)` had before it became arithmetic.
    static func foundation(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    @Test(
        "chosen instants: 1970, leap days, centuries, ends of years, milliseconds at their edges",
        arguments: [
            0, 0.0005, 0.0009, 0.123, 0.9996, 0.9999, 1.0005, -0.0005, -0.001, -1.5, -0.9999,
            951_782_400, 951_782_400.5, 951_868_799.999, 4_107_542_400, 4_107_542_399.999, 4_107_456_000,
            1_798_761_599.9995, 1_798_761_600, 1_709_164_800.042, 1_764_394_800.123, 1_764_394_800.1235,
            978_307_200.0005, 978_307_199.9995, 253_402_300_799.999, 946_684_799.999, -2_208_988_800,
        ])
    func chosen(seconds: Double) {
        let date = Date(timeIntervalSince1970: seconds)
        #expect(Timestamp.format(date) == Self.foundation(date))
    }

    @Test("100000 instants from 1583 (Foundation's calendar is Julian before) to 9999")
    func many() {
        var random = SplitMix64(seed: 0x5EED)
        var mismatches: [String] = []
        for _ in 0..<100_000 {
            let seconds = -12_212_553_600 + Double(random.next() % 265_614_854_400) + Double(random.next() % 1_000_000) / 1_000_000
            let date = Date(timeIntervalSince1970: seconds)
            let ours = Timestamp.format(date)
            let theirs = Self.foundation(date)
            if ours != theirs { mismatches.append("\(seconds): \(ours) vs \(theirs)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differ, the first: \(mismatches.prefix(5))")
    }

    @Test("other RFC 3339 forms are normalized, record forms kept, the rest refused")
    func normalized() {
        #expect(Timestamp.normalized("2026-11-29T05:40:00.123Z") == "2026-11-29T05:40:00.123Z")
        #expect(Timestamp.normalized("2026-11-29 07:40:00+02:00") == "2026-11-29T05:40:00.000Z")
        #expect(Timestamp.normalized("2026-11-29t05:40:00.5z") == "2026-11-29T05:40:00.500Z")
        #expect(Timestamp.normalized("yesterday") == nil)
    }
}

/// A small deterministic generator: the same instants in every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49EB_133D_11EB
        return z ^ (z >> 31)
    }
}
