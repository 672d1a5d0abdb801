import Modbus

/// Something registers can be read from: a libmodbus link, or an in-memory device in tests.
public protocol RegisterReader: Sendable {
    /// Reads `count` registers (1...125) of `unit` from `address`.
    func read(unit: Int, address: Int, count: Int, kind: RegisterKind, timeout: Duration?) async throws(ModbusError) -> [UInt16]
}

extension ModbusLink: RegisterReader {}
