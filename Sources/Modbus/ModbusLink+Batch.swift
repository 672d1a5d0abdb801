import Foundation

/// The registers of one read of a batch, and when they arrived.
public struct ReadAnswer: Sendable, Equatable {
    /// The registers, as the device answered the read.
    public var registers: [UInt16]
    /// When the answer arrived (on the clock the batch was given).
    public var arrived: Date

    /// An answer.
    public init(registers: [UInt16], arrived: Date) {
        self.registers = registers
        self.arrived = arrived
    }
}

extension ModbusLink {
    /// Reads `ranges` of `unit` in order, in one turn on the link's thread: the same requests, each
    /// checked against its own answer, as that many `read` calls, without a hand-over between threads
    /// for each one. Stops after the first read that fails, or once the task is cancelled: the answers
    /// are in order, one per read made, the last one the failure (`.cancelled` for the reads a
    /// cancellation left unsent). Each answer is stamped with `wall` as it arrives.
    public func read(
        unit: Int, ranges: [Range<Int>], kind: RegisterKind = .holding, timeout: Duration? = nil,
        wall: @escaping @Sendable () -> Date = { Date() }
    ) async -> [Result<ReadAnswer, ModbusError>] {
        guard let first = ranges.first else { return [] }
        let operation = kind == .holding ? "read holding registers" : "read input registers"
        let timeout = timeout ?? defaultTimeout
        let observer = observer
        let answers = await transaction(operation: operation, unit: unit, address: first.lowerBound, observed: false) {
            [self] (stillWanted: () -> Bool) in
            var answers: [Result<ReadAnswer, ModbusError>] = []
            for range in ranges {
                guard answers.isEmpty || stillWanted() else {
                    answers.append(.failure(ModbusError(.cancelled, operation: operation, unit: unit, address: range.lowerBound)))
                    break
                }
                let started = ContinuousClock.now
                let result = performRead(unit: unit, address: range.lowerBound, count: range.count, kind: kind, timeout: timeout)
                if let observer {
                    let error: ModbusError? = if case .failure(let e) = result { e } else { nil }
                    observer.requestEnded(busy: .now - started, error: error)
                }
                answers.append(result.map { ReadAnswer(registers: $0, arrived: wall()) })
                if case .failure = result { break }
            }
            return .success(answers)
        }
        switch answers {
        case .success(let answers): return answers
        case .failure(let error): return [.failure(error)]
        }
    }
}
