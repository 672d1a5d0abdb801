import Testing

@testable import SunSpec

@Suite("Encoding raw values into registers")
struct EncodingTests {
    @Test("encode then decode gives the values back")
    func roundTrip() throws {
        let regs = try registers(1, ["Mn": .string("Acme"), "Md": .string("Rack 9"), "SN": .string("123"), "DA": .int(7)])
        #expect(regs.count == 68)
        let model = try decode(1, regs)
        #expect(model[point: "Mn"] == .string("Acme"))
        #expect(model[point: "Opt"] == .null)
        #expect(model[point: "DA"] == .uint(7))
    }

    @Test("null encodes the type's not-implemented value", arguments: PointType.allCases)
    func sentinels(type: PointType) {
        let point = PointDefinition(name: "P", type: type, size: type.registerCount ?? 4)
        let regs = try! PointEncoding.encode(.null, as: point)
        let value = regs.withUnsafeBufferPointer { PointDecoding.decode(type, $0, 0, point.size) }
        #expect(value == .null)
    }

    @Test("a value that does not fit its type is an error naming the point")
    func doesNotFit() {
        let point = PointDefinition(name: "SoC", type: .uint16, size: 1)
        let error = #expect(throws: EncodingError.self) { try PointEncoding.encode(.int(70000), as: point) }
        #expect(error?.message == "point SoC: int(70000) is not a valid uint16")
    }
}
