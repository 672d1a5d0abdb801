import SunSpec

extension SunSpecDevice {
    /// The executor of control actions on this device (nil: the device takes no control).
    var controlExecutor: ControlExecutor? {
        guard let control = config.control else { return nil }
        return ControlExecutor(
            reader: reader, unit: unit, timeout: config.timeout, function: control.writeFunction, settle: control.settle, clocks: clocks)
    }
}

extension SunSpecStrategy {
    mutating func control(_ action: ControlAction, intent: ControlIntent?) async -> [ControlOutcome] {
        guard let session, let executor = device.controlExecutor else {
            return Array(repeating: ControlOutcome(.offline, error: "the device's map is not known"), count: action.count)
        }
        let map = ControlMap(image: session.image, models: session.map.models, catalog: device.catalog)
        return await ControlActions.perform(action, executor: executor, intent: intent) { path, value in
            map.target(path, value: value)
        } locate: { path in
            map.find(path)
        }
    }
}

extension ProfileStrategy {
    mutating func control(_ action: ControlAction, intent: ControlIntent?) async -> [ControlOutcome] {
        guard let control = config.control else {
            return Array(repeating: ControlOutcome(.notAllowed, error: "the device takes no control"), count: action.count)
        }
        let executor = ControlExecutor(
            reader: reader, unit: config.unit, timeout: config.timeout, function: control.writeFunction, settle: control.settle,
            clocks: clocks)
        let map = lastRegisters.map { ControlMap($0, catalog: .builtin) }
        let allow = control.allow
        return await ControlActions.perform(action, executor: executor, intent: intent) { path, value in
            if path == control.heartbeat, let vendor = control.heartbeatVendor, let definition = control.heartbeatDefinition {
                do throws(SetpointError) {
                    let registers = try vendor.encode(value, point: definition)
                    return .success(
                        ControlTarget(
                            point: path.description, address: vendor.address, registers: registers, before: nil, decode: vendor.decode))
                } catch {
                    return .failure(ControlMap.refusal(error, before: nil))
                }
            }
            guard let point = allow.first(where: { $0.path == path }), let vendor = point.vendor else {
                return .failure(ControlOutcome(.notAllowed, error: "\(path) has no vendor register to write"))
            }
            let before: SetpointValue?
            if let map, case .success(let found) = map.find(path) { before = found.value } else { before = nil }
            do throws(SetpointError) {
                let registers = try vendor.encode(value, point: point.definition)
                return .success(
                    ControlTarget(
                        point: path.description, address: vendor.address, registers: registers, before: before, decode: vendor.decode))
            } catch {
                return .failure(ControlMap.refusal(error, before: before))
            }
        } locate: { path in
            guard let point = allow.first(where: { $0.path == path }), let vendor = point.vendor else {
                return .failure(ControlOutcome(.notAllowed, error: "\(path) has no vendor register to read"))
            }
            return .success(
                MappedPoint(
                    definition: point.definition, address: vendor.address, size: vendor.size, scaleFactor: nil, scaleProblem: nil,
                    value: nil,
                    decode: { registers, _ in vendor.decode(registers) }))
        }
    }
}

/// The control actions, over how a device finds its points: shared by SunSpec and profile devices.
enum ControlActions {
    static func perform(
        _ action: ControlAction, executor: ControlExecutor, intent: ControlIntent?,
        target: (PointPath, SetpointValue) -> Result<ControlTarget, ControlOutcome>,
        locate: (PointPath) -> Result<MappedPoint, ControlOutcome>
    ) async -> [ControlOutcome] {
        switch action {
        case .write(let writes):
            // Checked whole before anything is written.
            var targets: [ControlTarget] = []
            for write in writes {
                switch target(write.point.path, write.value) {
                case .success(let t):
                    targets.append(t)
                case .failure(let refusal):
                    return writes.map { other in
                        other.point.path == write.point.path
                            ? refusal
                            : ControlOutcome(refusal.result, error: "not written: \(write.point.path) in the same request was refused")
                    }
                }
            }
            return await executor.write(targets, intent: intent)
        case .heartbeat(let path, _, let value):
            switch target(path, .number(ExactDecimal(unsigned: value, exponent: 0))) {
            case .success(let t): return await executor.write([t], readBack: false, intent: intent)
            case .failure(let refusal): return [refusal]
            }
        case .get(let point):
            let found: MappedPoint
            switch locate(point.path) {
            case .success(let f): found = f
            case .failure(let refusal): return [refusal]
            }
            do {
                let registers = try await executor.read(address: found.address, count: found.size)
                // The scale factor as the device has it now, too.
                var scaleFactor = found.scaleFactor
                if let address = found.scaleAddress {
                    let raw = try await executor.read(address: address, count: 1)[0]
                    guard let sf = SetpointEncoding.scaleFactor(register: raw) else {
                        return [
                            ControlOutcome(
                                .precondition, before: found.value, error: "\(point.path): its scale factor is not implemented (raw \(raw))"
                            )
                        ]
                    }
                    scaleFactor = sf + found.definition.exponentAdjust
                }
                return [ControlOutcome(.ok, before: found.value, readback: found.decode(registers, scaleFactor))]
            } catch {
                let result: ControlResult = if case .exception = error.kind { .deviceException } else { .timeout }
                var outcome = ControlOutcome(result, before: found.value, error: error.description)
                if case .exception(let code) = error.kind { outcome.code = code }
                return [outcome]
            }
        }
    }
}
