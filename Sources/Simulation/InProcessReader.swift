import Gateway
import Modbus

/// A `RegisterSource` read (and, when it is a `WritableRegisterSource`, written) in-process, for
/// tests and the benchmark's fleet: no sockets involved.
public struct InProcessReader: RegisterReader {
    let source: any RegisterSource

    /// Reads from `source`.
    public init(_ source: any RegisterSource) {
        self.source = source
    }

    public func read(unit: Int, address: Int, count: Int, kind: RegisterKind, timeout: Duration?) async throws(ModbusError) -> [UInt16] {
        guard (1...125).contains(count) else {
            throw ModbusError(.invalidRequest("\(count) registers at \(address)"), operation: "read", unit: unit, address: address)
        }
        switch source.read(unit: UInt8(truncatingIfNeeded: unit), kind: kind, address: address, count: count) {
        case .registers(let r): return r
        case .exception(let code): throw ModbusError(.exception(code), operation: "read", unit: unit, address: address)
        }
    }

    /// Writes as `ModbusLink.write` does, to the source: one write of 1...123 registers (16), or one
    /// per register (6), stopping at the first refused. A source that takes no writes refuses with
    /// exception 1.
    public func write(
        unit: Int, address: Int, registers: [UInt16], function: WriteFunction, timeout: Duration?
    ) async throws(ModbusError) {
        let operation = function == .multiple ? "write multiple registers" : "write single register"
        let most = function == .multiple ? 123 : 65536
        guard (1...most).contains(registers.count), address >= 0, address + registers.count <= 65536 else {
            throw ModbusError(
                .invalidRequest("\(registers.count) registers at \(address)"), operation: operation, unit: unit, address: address)
        }
        guard let writable = source as? any WritableRegisterSource else {
            throw ModbusError(.exception(1), operation: operation, unit: unit, address: address)
        }
        let requests = function == .multiple ? [(address, registers)] : registers.enumerated().map { (address + $0.offset, [$0.element]) }
        for (at, values) in requests {
            if case .exception(let code) = writable.write(unit: UInt8(truncatingIfNeeded: unit), address: at, registers: values) {
                throw ModbusError(.exception(code), operation: operation, unit: unit, address: at)
            }
        }
    }
}
