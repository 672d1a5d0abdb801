import Foundation
import Modbus

/// Something registers can be read from, and written to: a libmodbus link, or an in-memory device in tests.
public protocol RegisterReader: Sendable {
    /// Reads `count` registers (1...125) of `unit` from `address`.
    func read(unit: Int, address: Int, count: Int, kind: RegisterKind, timeout: Duration?) async throws(ModbusError) -> [UInt16]

    /// Writes `registers` of `unit` from `address` with `function` (16: one request of 1...123
    /// registers; 6: one request per register, in one turn), never retried (`ModbusLink.write`).
    func write(unit: Int, address: Int, registers: [UInt16], function: WriteFunction, timeout: Duration?) async throws(ModbusError)

    /// Reads `ranges` in order, stopping after the first failure (or a cancellation): one answer per
    /// read made, each stamped with `wall` when it arrived. A link does them in one turn of its
    /// thread (`ModbusLink.read(unit:ranges:...)`); other readers, one `read` after another.
    func read(
        unit: Int, ranges: [Range<Int>], kind: RegisterKind, timeout: Duration?, wall: @escaping @Sendable () -> Date
    ) async -> [Result<ReadAnswer, ModbusError>]
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
    public func read(
        unit: Int, ranges: [Range<Int>], kind: RegisterKind, timeout: Duration?, wall: @escaping @Sendable () -> Date
    ) async -> [Result<ReadAnswer, ModbusError>] {
        var answers: [Result<ReadAnswer, ModbusError>] = []
        for range in ranges {
            guard answers.isEmpty || !Task.isCancelled else {
                answers.append(.failure(ModbusError(.cancelled, operation: "read registers", unit: unit, address: range.lowerBound)))
                break
            }
            do {
                let registers = try await read(unit: unit, address: range.lowerBound, count: range.count, kind: kind, timeout: timeout)
                answers.append(.success(ReadAnswer(registers: registers, arrived: wall())))
            } catch {
                answers.append(.failure(error))
                break
            }
        }
        return answers
    }

    /// One request as polls make it: a timeout is tried once more at once, a refusal (exception 2)
    /// once more (a device's passing refusal is not a hole), busy (exception 6, or 5) after each wait
    /// of `busyRetries` on `clocks`; then the error is the request's.
    func readRetrying(
        unit: Int, address: Int, count: Int, kind: RegisterKind, timeout: Duration?, busyRetries: [Duration], clocks: Clocks
    ) async throws(ModbusError) -> [UInt16] {
        do {
            return try await read(unit: unit, address: address, count: count, kind: kind, timeout: timeout)
        } catch {
            return try await retry(
                after: error, unit: unit, address: address, count: count, kind: kind, timeout: timeout, busyRetries: busyRetries,
                clocks: clocks)
        }
    }

    /// The retries of `readRetrying` after its first attempt failed with `error` (made by a batch).
    func retry(
        after error: ModbusError, unit: Int, address: Int, count: Int, kind: RegisterKind, timeout: Duration?, busyRetries: [Duration],
        clocks: Clocks
    ) async throws(ModbusError) -> [UInt16] {
        var last = error
        var timedOut = false
        var refused = false
        var busy = busyRetries[...]
        while true {
            if Task.isCancelled || last.kind == .cancelled { throw last }  // stopping: no retry
            if last.kind == .timeout, !timedOut {
                timedOut = true
            } else if last.isException(2), !refused {
                refused = true
            } else if last.isException(6) || last.isException(5), let wait = busy.popFirst() {
                do { try await clocks.sleep(for: wait) } catch { throw last }  // cancelled while waiting: the request's own error
            } else {
                throw last
            }
            do {
                return try await read(unit: unit, address: address, count: count, kind: kind, timeout: timeout)
            } catch {
                last = error
            }
        }
    }
}
