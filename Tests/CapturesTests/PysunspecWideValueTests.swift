import Captures
import SunSpec
import Testing

@Suite("pysunspec2 device JSON: 64-bit unsigned values of 2^63 and more")
struct PysunspecWideValueTests {
    /// Model 1, then 701 (uint64 energies with TotWh_SF) and 122 (acc64 energies, no scale factor).
    static let device = #"""
        {"name":"wide","models":[
          {"ID":1,"L":66,"Mn":"Acme","Md":"W","SN":"1"},
          {"ID":701,"L":153,"ACType":2,"TotWh_SF":0,"TotVarh_SF":0,
           "TotWhInj":18446744073709551615,"TotWhAbs":9223372036854775808,"TotVarhInj":18446744073709551614},
          {"ID":122,"L":44,"ActWh":18446744073709551615,"ActVAh":9223372036854775808,"ActVArhQ1":0}
        ]}
        """#

    @Test("the registers hold the exact values; pysunspec2's not-implemented values decode as null")
    func exactValues() throws {
        let capture = try #require(captures(Array(Self.device.utf8)).first)
        let decoded = try DeviceDecoder.decode(capture.image, base: capture.base)
        #expect(decoded.chainError == nil)
        #expect(decoded.models.map(\.model.id) == [1, 701, 122])
        // 701 at 40070: ID, L, then 17 registers before TotWhInj.
        #expect(registers(capture.image, 40089, 12) == [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0x8000, 0, 0, 0, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE])
        // uint64: 0xFFFFFFFFFFFFFFFF is not implemented (pysunspec2 shows None); the others are exact.
        #expect(value(decoded, "701.TotWhInj") == .null)
        #expect(value(decoded, "701.TotWhAbs") == .decimal(ExactDecimal(unsigned: 1 << 63, exponent: 0)))
        #expect(value(decoded, "701.TotVarhInj") == .decimal(ExactDecimal(unsigned: UInt64.max - 1, exponent: 0)))
        // acc64: 0 is not implemented, so 0xFFFFFFFFFFFFFFFF is a value.
        #expect(value(decoded, "122.ActWh") == .uint(UInt64.max))
        #expect(value(decoded, "122.ActVAh") == .uint(1 << 63))
        #expect(value(decoded, "122.ActVArhQ1") == .null)
    }

    @Test("2^64 does not fit a uint64, nor 2^63 an int64: exit-65 errors naming the point")
    func outOfRange() {
        let tooBig = #"{"name":"x","models":[{"ID":701,"L":153,"TotWhInj":18446744073709551616}]}"#
        #expect(errors(tooBig).first?.hasPrefix("in.txt: models[0]: model 701: point TotWhInj: ") == true)
        let signed = #"{"name":"x","models":[{"ID":63001,"int64":9223372036854775808}]}"#
        #expect(errors(signed) == ["in.txt: models[0]: model 63001: point int64: uint(9223372036854775808) is not a valid int64"])
    }

    private func registers(_ image: RegisterImage, _ start: Int, _ count: Int) -> [UInt16?] {
        (start..<start + count).map { image.value(at: $0) }
    }
}
