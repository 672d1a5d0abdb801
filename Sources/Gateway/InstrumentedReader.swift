import Foundation
import Modbus

/// A device's reader that counts each read request in the device's metrics (by function and result,
/// and exceptions by code) before handing its answer on; writes (control) are passed through. Retries
/// above it count once per attempt: each is a request on the wire.
struct InstrumentedReader: RegisterReader {
    let reader: any RegisterReader
    let metrics: DeviceMetrics

    func read(unit: Int, address: Int, count: Int, kind: RegisterKind, timeout: Duration?) async throws(ModbusError) -> [UInt16] {
        do {
            let registers = try await reader.read(unit: unit, address: address, count: count, kind: kind, timeout: timeout)
            metrics.requestEnded(kind: kind, error: nil)
            return registers
        } catch {
            metrics.requestEnded(kind: kind, error: error)
            throw error
        }
    }

    func read(
        unit: Int, ranges: [Range<Int>], kind: RegisterKind, timeout: Duration?, wall: @escaping @Sendable () -> Date
    ) async -> [Result<ReadAnswer, ModbusError>] {
        let answers = await reader.read(unit: unit, ranges: ranges, kind: kind, timeout: timeout, wall: wall)
        for answer in answers {
            if case .failure(let error) = answer {
                metrics.requestEnded(kind: kind, error: error)
            } else {
                metrics.requestEnded(kind: kind, error: nil)
            }
        }
        return answers
    }

    /// Writes go to the device's reader as they are (`modbus_requests_total` counts reads only).
    func write(unit: Int, address: Int, registers: [UInt16], function: WriteFunction, timeout: Duration?) async throws(ModbusError) {
        try await reader.write(unit: unit, address: address, registers: registers, function: function, timeout: timeout)
    }
}
