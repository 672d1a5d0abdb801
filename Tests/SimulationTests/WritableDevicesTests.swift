import Gateway
import Modbus
import SunSpec
import Testing

@testable import Simulation

/// A reader with only `read`: writes get the protocol's default.
private struct ReadOnlyReader: RegisterReader {
    func read(unit: Int, address: Int, count: Int, kind: RegisterKind, timeout: Duration?) async throws(ModbusError) -> [UInt16] {
        Array(repeating: 0, count: count)
    }
}

@Suite("Simulated devices that take writes")
struct WritableDevicesTests {
    /// Unit 1: registers 100..<110 and 200..<205.
    static func devices(writable: Bool) -> CaptureDevices {
        let image = RegisterImage(blocks: [
            .init(start: 100, registers: (0..<10).map { UInt16($0) }), .init(start: 200, registers: (0..<5).map { UInt16($0) }),
        ])
        return CaptureDevices([1: image], writable: writable)
    }

    @Test("writes land in the holding image; a register it does not have refuses the write whole (2); no unit 0x0B")
    func captureWrites() {
        let devices = Self.devices(writable: true)
        #expect(devices.write(unit: 1, address: 102, registers: [70, 71]) == .written)
        #expect(devices.read(unit: 1, kind: .holding, address: 101, count: 3) == .registers([1, 70, 71]))
        #expect(devices.write(unit: 1, address: 109, registers: [5, 5]) == .exception(2))
        #expect(devices.image(unit: 1)?.value(at: 109) == 9)
        #expect(devices.image(unit: 1)?.value(at: 110) == nil)
        #expect(devices.write(unit: 1, address: 150, registers: [5]) == .exception(2))
        #expect(devices.write(unit: 4, address: 100, registers: [5]) == .exception(0x0B))
    }

    @Test("not writable (the default): every write is exception 1 and nothing changes")
    func readOnlyCaptures() {
        let devices = Self.devices(writable: false)
        #expect(devices.write(unit: 1, address: 100, registers: [5]) == .exception(1))
        #expect(devices.image(unit: 1)?.value(at: 100) == 0)
    }

    @Test("the in-process reader writes as a link does: FC16 whole, FC6 per register stopping at the first refusal")
    func inProcessWrites() async throws {
        let devices = Self.devices(writable: true)
        let reader = InProcessReader(devices)
        try await reader.write(unit: 1, address: 200, registers: [9, 8], function: .multiple, timeout: nil)
        #expect(try await reader.read(unit: 1, address: 200, count: 2, kind: .holding, timeout: nil) == [9, 8])
        let stopped = await #expect(throws: ModbusError.self) {
            try await reader.write(unit: 1, address: 203, registers: [1, 2, 3], function: .single, timeout: nil)
        }
        #expect(stopped?.kind == .exception(2))
        #expect(stopped?.address == 205)
        #expect(devices.image(unit: 1)?.window(start: 203, count: 2).values.elementsEqual([1, 2]) == true)
        let whole = await #expect(throws: ModbusError.self) {
            try await reader.write(unit: 1, address: 203, registers: [7, 7, 7], function: .multiple, timeout: nil)
        }
        #expect(whole?.kind == .exception(2))
        #expect(devices.image(unit: 1)?.value(at: 203) == 1)
        let refused = await #expect(throws: ModbusError.self) {
            try await InProcessReader(Self.devices(writable: false)).write(
                unit: 1, address: 100, registers: [1], function: .single, timeout: nil)
        }
        #expect(refused?.kind == .exception(1))
    }

    @Test("a reader that does not implement write refuses with exception 1")
    func defaultWrite() async {
        let error = await #expect(throws: ModbusError.self) {
            try await ReadOnlyReader().write(unit: 3, address: 40279, registers: [1], function: .multiple, timeout: nil)
        }
        #expect(error?.kind == .exception(1))
        #expect(error?.description == "write registers unit 3 at 40279: Modbus exception 1 (illegal function)")
    }

    @Test("the demo's devices take writes")
    func demoWritable() {
        let devices = DemoSystem.devices()
        #expect(devices.writable)
        #expect(devices.write(unit: 1, address: 40004, registers: [0x4142]) == .written)
        #expect(devices.image(unit: 1)?.value(at: 40004) == 0x4142)
    }
}
