import Testing

@testable import SunSpec

@Suite struct ExactDecimalParsingTests {
    static let parseCases: [(String, UInt64, Bool, Int)] = [
        ("25000", 25, false, 3), ("-12.5", 125, true, -1), ("1e3", 1, false, 3), ("+0.5", 5, false, -1), (".5", 5, false, -1),
        ("-0", 0, false, 0), ("0.000", 0, false, 0), ("1.250E-2", 125, false, -4),
        ("18446744073709551615", 18_446_744_073_709_551_615, false, 0),
        ("184467440737095516150", 18_446_744_073_709_551_615, false, 1), ("5.", 5, false, 0), ("1e-100", 1, false, -100),
    ]

    @Test(arguments: parseCases)
    func parses(text: String, magnitude: UInt64, negative: Bool, exponent: Int) throws {
        let d = try #require(ExactDecimal(parsing: text))
        #expect(d.magnitude == magnitude && d.negative == negative && d.exponent == exponent, "\(text)")
    }

    @Test(arguments: [
        "", "-", ".", "1.2.3", "1e", "1e+", "abc", "0x10", "1_000", "12a", "184467440737095516151", "1e-101", "1e300", " 1", "inf", "NaN",
    ])
    func refuses(text: String) {
        #expect(ExactDecimal(parsing: text) == nil, "\(text)")
    }

    @Test func ordersByValue() throws {
        let values = ["-50000", "-12.5", "-0.001", "0", "0.001", "12.5", "12.50001", "25000", "25001", "1e20"].map {
            ExactDecimal(parsing: $0)!
        }
        for (i, a) in values.enumerated() {
            for (j, b) in values.enumerated() {
                #expect((a < b) == (i < j), "\(a) < \(b)")
                #expect((a == b) == (i == j), "\(a) == \(b)")
            }
        }
        #expect(ExactDecimal(2500, exponent: 1) == ExactDecimal(25000, exponent: 0))
        #expect(Set([ExactDecimal(2500, exponent: 1), ExactDecimal(25000, exponent: 0)]).count == 1)
        #expect(ExactDecimal(parsing: "25000")?.description == "25000")
        #expect(ExactDecimal(parsing: "-12.50")?.description == "-12.5")
    }
}
