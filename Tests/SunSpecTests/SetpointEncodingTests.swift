import Testing

@testable import SunSpec

/// The encoder against registers worked out by hand: raw = value / 10^sf, exactly. pysunspec2 1.3.7
/// (cvalue then to_data) gives the same for WChaMax 25000 at sf 1 (09c4), 12.5 at -1 (125), OutWRte
/// -100 at -2 (d8f0) and WSet -50000 at 0 (ffff3cb0).
@Suite struct SetpointEncodingTests {
    static func point(_ model: Int, _ path: String) throws -> PointDefinition {
        let definition = try #require(ModelCatalog.builtin.definition(for: model))
        return try definition.point(at: PointPath(parsing: path))
    }

    static func number(_ text: String) -> SetpointValue { .number(ExactDecimal(parsing: text)!) }

    typealias EncodeCase = (String, String, Int?, [UInt16])

    /// One case, typed here so the table type-checks quickly.
    static func c(_ path: String, _ value: String, _ sf: Int?, _ registers: [UInt16]) -> EncodeCase { (path, value, sf, registers) }

    static let encodeCases: [EncodeCase] = [
        // 124.WChaMax uint16 with WChaMax_SF.
        c("124.WChaMax", "25000", 1, [2500]),
        c("124.WChaMax", "25000", 0, [25000]),
        c("124.WChaMax", "2.5e4", 1, [2500]),
        c("124.WChaMax", "12.5", -1, [125]),
        c("124.WChaMax", "0", 3, [0]),
        c("124.WChaMax", "65534", 0, [65534]),
        c("124.WChaMax", "0.0001", -4, [1]),
        // 124.OutWRte int16 percent at sf -2: -100 % would be -10000 raw (the evcc bug wrote -100 raw).
        c("124.OutWRte", "-100", -2, [UInt16(bitPattern: -10000)]),
        c("124.OutWRte", "-1", -2, [UInt16(bitPattern: -100)]),
        c("124.OutWRte", "-327.67", -2, [UInt16(bitPattern: -32767)]),
        // 704.WSet int32 W with WSet_SF.
        c("704.WSet", "-50000", 0, [0xFFFF, 0x3CB0]),
        c("704.WSet", "50000", 1, [0, 5000]),
        c("704.WSet", "2147483647", 0, [0x7FFF, 0xFFFF]),
        // Enums by symbol or by value, bitfields by number or bit name, no scale factor.
        c("802.SetOp", "1", nil, [1]),
        c("802.CtrlHb", "65534", nil, [65534]),
    ]

    @Test(arguments: encodeCases)
    func encodes(path: String, value: String, sf: Int?, expected: [UInt16]) throws {
        let p = try PointPath(parsing: path)
        let point = try Self.point(p.model, path)
        #expect(try SetpointEncoding.encode(Self.number(value), point: point, scaleFactor: sf) == expected)
        // And back.
        #expect(SetpointEncoding.decode(expected, point: point, scaleFactor: sf) == Self.number(value))
    }

    @Test func symbols() throws {
        let setOp = try Self.point(802, "802.SetOp")
        #expect(try SetpointEncoding.encode(.symbol("CONNECT"), point: setOp, scaleFactor: nil) == [1])
        #expect(try SetpointEncoding.encode(.symbol("DISCONNECT"), point: setOp, scaleFactor: nil) == [2])
        #expect(throws: SetpointError.outOfRange("NOPE is not a symbol of SetOp (CONNECT=1, DISCONNECT=2)")) {
            try SetpointEncoding.encode(.symbol("NOPE"), point: setOp, scaleFactor: nil)
        }
        #expect(throws: SetpointError.outOfRange("3 is not the value of a symbol of SetOp (CONNECT=1, DISCONNECT=2)")) {
            try SetpointEncoding.encode(Self.number("3"), point: setOp, scaleFactor: nil)
        }
        #expect(throws: SetpointError.outOfRange("1.5 is not the value of a symbol of SetOp (CONNECT=1, DISCONNECT=2)")) {
            try SetpointEncoding.encode(Self.number("1.5"), point: setOp, scaleFactor: nil)
        }
        let storCtl = try Self.point(124, "124.StorCtl_Mod")
        #expect(try SetpointEncoding.encode(.symbol("CHARGE"), point: storCtl, scaleFactor: nil) == [1])
        #expect(try SetpointEncoding.encode(.symbol("DiSCHARGE"), point: storCtl, scaleFactor: nil) == [2])
        #expect(try SetpointEncoding.encode(Self.number("3"), point: storCtl, scaleFactor: nil) == [3])
        #expect(throws: SetpointError.self) { try SetpointEncoding.encode(Self.number("65535"), point: storCtl, scaleFactor: nil) }
        #expect(SetpointEncoding.decode([2], point: setOp, scaleFactor: nil) == Self.number("2"))
        #expect(SetpointEncoding.decode([0xFFFF], point: setOp, scaleFactor: nil) == nil)
    }

    static let refuseCases: [(String, String, Int?, SetpointError)] = [
        ("124.WChaMax", "25001", 1, .notRepresentable("25001 is not a multiple of 10 (scale factor 1 of WChaMax)")),
        ("124.WChaMax", "12.55", -1, .notRepresentable("12.55 is not a multiple of 0.1 (scale factor -1 of WChaMax)")),
        ("124.WChaMax", "65535", 0, .outOfRange("65535 is raw 65535, outside what WChaMax (uint16) holds: 0...65534")),
        ("124.WChaMax", "-1", 0, .outOfRange("-1 is raw -1, outside what WChaMax (uint16) holds: 0...65534")),
        ("124.WChaMax", "70000", 0, .outOfRange("70000 is raw 70000, outside what WChaMax (uint16) holds: 0...65534")),
        ("124.OutWRte", "-327.68", -2, .outOfRange("-327.68 is raw -32768, outside what OutWRte (int16) holds: -32767...32767")),
        (
            "704.WSet", "-2147483648", 0,
            .outOfRange("-2147483648 is raw -2147483648, outside what WSet (int32) holds: -2147483647...2147483647")
        ),
        ("124.WChaMax", "1e40", 0, .outOfRange("10000000000000000000000000000000000000000 is outside what WChaMax (uint16) holds")),
        ("124.WChaMax", "25000", nil, .precondition("the scale factor of WChaMax is not known (never read)")),
        ("124.WChaMax", "25000", -32768, .precondition("the scale factor of WChaMax is not implemented (0x8000)")),
        ("124.WChaMax", "25000", 11, .precondition("the scale factor of WChaMax is 11, outside -10...10")),
    ]

    @Test(arguments: refuseCases)
    func refuses(path: String, value: String, sf: Int?, error: SetpointError) throws {
        let p = try PointPath(parsing: path)
        let point = try Self.point(p.model, path)
        let d = try #require(ExactDecimal(parsing: value))
        #expect(throws: error) { try SetpointEncoding.encode(.number(d), point: point, scaleFactor: sf) }
    }

    @Test func notImplementedValuesOfEveryType() throws {
        func p(_ type: PointType) -> PointDefinition {
            PointDefinition(name: "P", type: type, size: type.registerCount!, access: .readWrite)
        }
        let refused: [(PointType, String)] = [
            (.int16, "-32768"), (.uint16, "65535"), (.count, "65535"), (.acc16, "0"), (.int32, "-2147483648"), (.uint32, "4294967295"),
            (.acc32, "0"), (.int64, "-9223372036854775808"), (.uint64, "18446744073709551615"), (.acc64, "0"),
            (.bitfield16, "65535"), (.bitfield32, "4294967295"), (.enum32, "4294967295"),
        ]
        for (type, value) in refused {
            #expect(throws: SetpointError.self, "\(type)") {
                try SetpointEncoding.encode(Self.number(value), point: p(type), scaleFactor: nil)
            }
        }
        #expect(try SetpointEncoding.encode(Self.number("4294967294"), point: p(.uint32), scaleFactor: nil) == [0xFFFF, 0xFFFE])
        #expect(try SetpointEncoding.encode(Self.number("-1"), point: p(.int64), scaleFactor: nil) == [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF])
        #expect(
            try SetpointEncoding.encode(Self.number("18446744073709551614"), point: p(.uint64), scaleFactor: nil) == [
                0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE,
            ])
        #expect(try SetpointEncoding.encode(Self.number("1.5"), point: p(.float32), scaleFactor: nil) == [0x3FC0, 0])
        #expect(throws: SetpointError.self) {
            try SetpointEncoding.encode(Self.number("1"), point: PointDefinition(name: "S", type: .string, size: 8), scaleFactor: nil)
        }
        #expect(throws: SetpointError.self) { try SetpointEncoding.encode(Self.number("1"), point: p(.sunssf), scaleFactor: nil) }
    }

    @Test func scaleFactorRegisters() {
        #expect(SetpointEncoding.scaleFactor(register: 0x8000) == nil)
        #expect(SetpointEncoding.scaleFactor(register: UInt16(bitPattern: -2)) == -2)
        #expect(SetpointEncoding.scaleFactor(register: 10) == 10)
        #expect(SetpointEncoding.scaleFactor(register: 11) == nil)
        #expect(SetpointEncoding.scaleFactor(register: UInt16(bitPattern: -11)) == nil)
    }

    @Test func scaleRegisterOverload() throws {
        let point = try Self.point(124, "124.WChaMax")
        #expect(try SetpointEncoding.encode(Self.number("25000"), point: point, scaleRegister: 1) == [2500])
        #expect(throws: SetpointError.self) { try SetpointEncoding.encode(Self.number("25000"), point: point, scaleRegister: 0x8000) }
    }
}
