import Testing

@testable import SunSpec

@Suite("Walking the SunSpec chain")
struct ChainTests {
    @Test("the chain is found at the usual bases", arguments: [40000, 0, 50000, 40001, 1, 50001])
    func bases(base: Int) throws {
        let device = try DeviceDecoder.decode(image(base: base, [try registers(1, ["Mn": .string("X")])]))
        #expect(device.base == base)
        #expect(device.models.map(\.address) == [base + 2])
        #expect(device.chainError == nil)
    }

    @Test("a base given is used, and a wrong one is an error")
    func givenBase() throws {
        let img = image(base: 12345, [try registers(1, [:])])
        #expect(try DeviceDecoder.decode(img, base: 12345).models.count == 1)
        #expect(try DeviceDecoder.decode(img).base == 12345)  // found anywhere as a last resort
        #expect(throws: ChainError.self) { try DeviceDecoder.decode(img, base: 40000) }
    }

    @Test("instances of the same model are indexed from 0, addresses follow the chain")
    func indexes() throws {
        let m804 = try registers(804, ["NMod": .int(0)])
        let device = try DeviceDecoder.decode(image([try registers(1, [:]), m804, m804, try registers(802, [:]), m804]))
        #expect(device.models.map(\.model.id) == [1, 804, 804, 802, 804])
        #expect(device.models.map(\.index) == [0, 0, 1, 0, 2])
        #expect(device.models.map(\.address) == [40002, 40070, 40118, 40166, 40230])
    }

    @Test("a chain that runs off the capture stops with an error and keeps what was decoded")
    func runsOff() throws {
        let device = try DeviceDecoder.decode(image([try registers(1, [:]), try registers(802, [:])], endMarker: false))
        #expect(device.models.count == 2)
        #expect(device.chainError == "the chain runs off the captured registers at 40134 without an end marker")
    }

    @Test("a chain that overruns register 65535 stops with an error")
    func overrun() throws {
        var regs: [UInt16] = [0x5375, 0x6E53] + (try registers(1, [:]))
        regs += [802, 200]
        let img = RegisterImage(blocks: [.init(start: 65400, registers: regs + [UInt16](repeating: 0, count: 136 - regs.count))])
        let device = try DeviceDecoder.decode(img, base: 65400)
        #expect(device.models.count == 2)
        #expect(device.chainError?.contains("overruns register 65535") == true)
    }

    @Test("a model with no definition keeps its raw registers")
    func unknownModel() throws {
        let device = try DeviceDecoder.decode(image([[65230, 3, 1, 2, 0xFFFF], try registers(1, [:])]))
        #expect(device.models.map(\.model.id) == [65230, 1])
        let unknown = device.models[0].model
        #expect(unknown.values == nil)
        #expect(unknown.raw == [1, 2, 0xFFFF])
        var buffer = JSONBuffer()
        ReadingRecord.append(device.models[0], device: "d", timestamp: nil, to: &buffer)
        #expect(
            String(decoding: buffer.bytes, as: UTF8.self)
                == #"{"type":"reading","device":"d","ts":null,"model":65230,"name":null,"index":0,"addr":40002,"len":3,"values":null,"raw":[1,2,65535]}"#
                + "\n")
    }

    @Test("no SunS marker anywhere is an error")
    func noMarker() {
        #expect(throws: ChainError.self) {
            try DeviceDecoder.decode(RegisterImage(blocks: [.init(start: 40000, registers: [1, 2, 3])]))
        }
    }
}

@Suite("Register images built in any order")
struct RegisterImageOrderTests {
    @Test("blocks inserted in descending, shuffled and overlapping order give the same image as in order")
    func anyOrder() {
        let inOrder = RegisterImage(blocks: (0..<2000).map { .init(start: 40000 + 2 * $0, registers: [UInt16($0)]) })
        var state: UInt64 = 7
        var shuffled = Array(0..<2000)
        for i in shuffled.indices.reversed() {
            state = state &* 6_364_136_223_846_793_005 &+ 1
            shuffled.swapAt(i, Int(state >> 33) % (i + 1))
        }
        let descending = RegisterImage(blocks: (0..<2000).reversed().map { .init(start: 40000 + 2 * $0, registers: [UInt16($0)]) })
        let random = RegisterImage(blocks: shuffled.map { .init(start: 40000 + 2 * $0, registers: [UInt16($0)]) })
        #expect(descending == inOrder)
        #expect(random == inOrder)
        // Where blocks overlap, the later one wins.
        let overlapping = RegisterImage(blocks: [.init(start: 10, registers: [1, 2, 3]), .init(start: 5, registers: [9, 9, 9, 9, 9, 9])])
        #expect((5..<13).map { overlapping.value(at: $0) } == [9, 9, 9, 9, 9, 9, 2, 3])
    }
}
