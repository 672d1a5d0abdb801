import Modbus
import SunSpec

/// One point ready to go to the device: where, the registers its value encodes to, and how to read
/// the registers back as a value.
struct ControlTarget: Sendable {
    /// The point's canonical name, for messages.
    let point: String
    /// First register on the wire.
    let address: Int
    /// The raw registers to write.
    let registers: [UInt16]
    /// The value the latest poll had.
    let before: SetpointValue?
    /// Registers read back, as a value in engineering units.
    let decode: @Sendable ([UInt16]) -> SetpointValue?
}

/// Carries out writes on a device's link: each target written (never retried), then, after the
/// settle time, read back and compared. Nothing is reported applied on an acknowledgement alone.
struct ControlExecutor: Sendable {
    let reader: any RegisterReader
    let unit: Int
    let timeout: Duration
    let function: WriteFunction
    let settle: Duration
    let clocks: Clocks

    /// Writes the targets in order and reads each written one back (`readBack`), one outcome per target.
    /// First `intent` records them all in the audit: when it cannot, nothing is written (`precondition`).
    /// After a failed write, the targets after it are not written.
    func write(_ targets: [ControlTarget], readBack: Bool = true, intent: ControlIntent?) async -> [ControlOutcome] {
        if let intent {
            let planned = targets.map {
                PlannedWrite(write: WriteRecord(address: $0.address, registers: $0.registers, function: function), before: $0.before)
            }
            guard intent(planned) else {
                return targets.map {
                    ControlOutcome(
                        .precondition, before: $0.before, error: "not written: its intent line could not be written to the audit")
                }
            }
        }
        var outcomes: [ControlOutcome?] = Array(repeating: nil, count: targets.count)
        /// Targets that went to the device, and whether the device acknowledged them.
        var sent: [(index: Int, acknowledged: Bool, error: String?)] = []
        for (i, target) in targets.enumerated() {
            let record = WriteRecord(address: target.address, registers: target.registers, function: function)
            do {
                try await reader.write(
                    unit: unit, address: target.address, registers: target.registers, function: function, timeout: timeout)
                sent.append((i, true, nil))
            } catch {
                switch error.kind {
                case .exception(let code):
                    outcomes[i] = ControlOutcome(
                        .deviceException, write: record, before: target.before, code: code, error: error.description)
                case .cancelled:
                    outcomes[i] = ControlOutcome(.offline, before: target.before, error: "the gateway is stopping")
                case .invalidRequest:
                    outcomes[i] = ControlOutcome(.badRequest, before: target.before, error: error.description)
                default:
                    // The request may have reached the device: only a read-back can tell.
                    sent.append((i, false, error.description))
                }
                for j in (i + 1)..<targets.count {
                    outcomes[j] = ControlOutcome(
                        .notApplied, before: targets[j].before, error: "not written: the write of \(target.point) before it failed")
                }
                break
            }
        }
        if readBack, !sent.isEmpty, settle > .zero {
            do { try await clocks.sleep(for: settle) } catch {
                // Stopping: no read-back, so nothing is known of the writes.
                for s in sent {
                    outcomes[s.index] = unknown(targets[s.index], s, why: "the gateway stopped before the read-back")
                }
                return outcomes.map { $0! }
            }
        }
        for s in sent {
            let target = targets[s.index]
            let record = WriteRecord(address: target.address, registers: target.registers, function: function)
            guard readBack else {
                outcomes[s.index] =
                    s.acknowledged ? ControlOutcome(.applied, write: record, before: target.before) : unknown(target, s, why: "")
                continue
            }
            do {
                let registers = try await reader.read(
                    unit: unit, address: target.address, count: target.registers.count, kind: .holding, timeout: timeout)
                let value = target.decode(registers)
                outcomes[s.index] =
                    registers == target.registers
                    ? ControlOutcome(.applied, write: record, before: target.before, readback: value)
                    : ControlOutcome(
                        .notApplied, write: record, before: target.before, readback: value,
                        error: "read back \(registers) after writing \(target.registers)")
            } catch {
                outcomes[s.index] = unknown(target, s, why: "read-back failed: \(error)")
            }
        }
        return outcomes.map { $0! }
    }

    /// A write whose outcome is not known.
    private func unknown(_ target: ControlTarget, _ sent: (index: Int, acknowledged: Bool, error: String?), why: String) -> ControlOutcome {
        let record = WriteRecord(address: target.address, registers: target.registers, function: function)
        let write = sent.acknowledged ? "write acknowledged" : "write not answered (\(sent.error ?? "no answer"))"
        return ControlOutcome(.timeout, write: record, before: target.before, error: why.isEmpty ? write : "\(write); \(why)")
    }

    /// Reads registers now (a `get`).
    func read(address: Int, count: Int) async throws(ModbusError) -> [UInt16] {
        try await reader.read(unit: unit, address: address, count: count, kind: .holding, timeout: timeout)
    }
}
