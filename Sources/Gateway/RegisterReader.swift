import Modbus

/// Something registers can be read from, and written to: a libmodbus link, or an in-memory device in tests.
public protocol RegisterReader: Sendable {
    /// Reads `count` registers (1...125) of `unit` from `address`.
    func read(unit: Int, address: Int, count: Int, kind: RegisterKind, timeout: Duration?) async throws(ModbusError) -> [UInt16]

    /// Writes `registers` of `unit` from `address` with `function` (16: one request of 1...123
    /// registers; 6: one request per register, in one turn), never retried (`ModbusLink.write`).
    func write(unit: Int, address: Int, registers: [UInt16], function: WriteFunction, timeout: Duration?) async throws(ModbusError)
}

extension ModbusLink: RegisterReader {}

extension RegisterReader {
    /// A reader that takes no writes: every write is refused as a device would refuse a function it
    /// does not have (exception 1, illegal function).
    public func write(unit: Int, address: Int, registers: [UInt16], function: WriteFunction, timeout: Duration?) async throws(ModbusError) {
        throw ModbusError(.exception(1), operation: "write registers", unit: unit, address: address)
    }
}

extension RegisterReader {
    /// One request as polls make it: a timeout is tried once more at once, a refusal (exception 2)
    /// once more (a device's passing refusal is not a hole), busy (exception 6, or 5) after each wait
    /// of `busyRetries` on `clocks`; then the error is the request's.
    func readRetrying(
        unit: Int, address: Int, count: Int, kind: RegisterKind, timeout: Duration?, busyRetries: [Duration], clocks: Clocks
    ) async throws(ModbusError) -> [UInt16] {
        var timedOut = false
        var refused = false
        var busy = busyRetries[...]
        while true {
            do {
                return try await read(unit: unit, address: address, count: count, kind: kind, timeout: timeout)
            } catch {
                if Task.isCancelled || error.kind == .cancelled { throw error }  // stopping: no retry
                if error.kind == .timeout, !timedOut {
                    timedOut = true
                } else if error.isException(2), !refused {
                    refused = true
                } else if error.isException(6) || error.isException(5), let wait = busy.popFirst() {
                    let failure = error  // cancelled while waiting: the request's own error
                    do { try await clocks.sleep(for: wait) } catch { throw failure }
                } else {
                    throw error
                }
            }
        }
    }
}
