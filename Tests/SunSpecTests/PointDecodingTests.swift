import Testing

@testable import SunSpec

@Suite("Point types and not-implemented values")
struct PointDecodingTests {
    static func value(_ type: PointType, _ regs: [UInt16], size: Int? = nil) -> PointValue {
        regs.withUnsafeBufferPointer { PointDecoding.decode(type, $0, 0, size ?? regs.count) }
    }

    @Test("values decode big-endian, high word first")
    func values() {
        #expect(Self.value(.int16, [0xFFFE]) == .int(-2))
        #expect(Self.value(.uint16, [0xFFFE]) == .uint(65534))
        #expect(Self.value(.count, [3]) == .uint(3))
        #expect(Self.value(.acc16, [7]) == .uint(7))
        #expect(Self.value(.enum16, [4]) == .uint(4))
        #expect(Self.value(.bitfield16, [0x8001]) == .uint(0x8001))
        #expect(Self.value(.sunssf, [0xFFFD]) == .int(-3))
        #expect(Self.value(.int32, [0xFFFF, 0xFFFE]) == .int(-2))
        #expect(Self.value(.uint32, [0x0001, 0x0002]) == .uint(65538))
        #expect(Self.value(.acc32, [0x0001, 0x0000]) == .uint(65536))
        #expect(Self.value(.enum32, [0, 9]) == .uint(9))
        #expect(Self.value(.bitfield32, [0x8000, 0]) == .uint(0x8000_0000))
        #expect(Self.value(.int64, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF]) == .int(-1))
        #expect(Self.value(.uint64, [0, 0, 1, 0]) == .uint(65536))
        #expect(Self.value(.acc64, [0x0001, 0, 0, 0]) == .uint(1 << 48))
        #expect(Self.value(.bitfield64, [0x8000, 0, 0, 1]) == .uint(0x8000_0000_0000_0001))
        #expect(Self.value(.float32, [0x3F80, 0x0000]) == .float32(1.0))
        #expect(Self.value(.float64, [0x3FF8, 0, 0, 0]) == .float64(1.5))
        #expect(Self.value(.ipaddr, [0xC0A8, 0x0001]) == .string("192.168.0.1"))
        #expect(Self.value(.ipv6addr, [0x2001, 0x0db8, 0, 0, 0, 0, 0, 1]) == .string("2001:db8::1"))
        #expect(Self.value(.eui48, [0, 0x0040, 0xADA9, 0x9576]) == .string("00:40:AD:A9:95:76"))
        #expect(Self.value(.string, [0x5375, 0x6E53, 0x0000, 0x4142]) == .string("SunS"))
        #expect(Self.value(.string, [0x4142, 0x4300]) == .string("ABC"))
    }

    @Test(
        "not-implemented values are null",
        arguments: [
            (PointType.int16, [UInt16(0x8000)]), (.uint16, [0xFFFF]), (.count, [0xFFFF]), (.enum16, [0xFFFF]),
            (.bitfield16, [0xFFFF]), (.acc16, [0]), (.sunssf, [0x8000]), (.pad, [0x1234]),
            (.int32, [0x8000, 0]), (.uint32, [0xFFFF, 0xFFFF]), (.enum32, [0xFFFF, 0xFFFF]), (.bitfield32, [0xFFFF, 0xFFFF]),
            (.acc32, [0, 0]), (.int64, [0x8000, 0, 0, 0]), (.uint64, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF]),
            (.bitfield64, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF]), (.acc64, [0, 0, 0, 0]), (.float32, [0x7FC0, 0]),
            (.float32, [0xFFC0, 1]), (.float64, [0x7FF8, 0, 0, 1]), (.string, [0x0041, 0x4200]), (.ipaddr, [0, 0]),
            (.ipv6addr, [0, 0, 0, 0, 0, 0, 0, 0]), (.eui48, [0, 0xFFFF, 0xFFFF, 0xFFFF]),
        ])
    func notImplemented(type: PointType, regs: [UInt16]) {
        #expect(Self.value(type, regs) == .null)
    }

    @Test("bytes that are not UTF-8 never fail a string")
    func invalidUTF8() {
        let value = Self.value(.string, [0x41FF, 0xFE42])
        #expect(value == .string("A\u{FFFD}\u{FFFD}B"))
    }

    @Test("near-sentinel values are values")
    func nearSentinels() {
        #expect(Self.value(.int16, [0x8001]) == .int(-32767))
        #expect(Self.value(.uint16, [0xFFFE]) == .uint(65534))
        #expect(Self.value(.acc32, [0, 1]) == .uint(1))
        #expect(Self.value(.int32, [0x8000, 1]) == .int(Int64(Int32.min) + 1))
    }
}
