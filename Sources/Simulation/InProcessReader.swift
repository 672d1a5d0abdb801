import Gateway
import Modbus

/// A `RegisterSource` read in-process, for tests and the benchmark's fleet: no sockets involved.
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
}
