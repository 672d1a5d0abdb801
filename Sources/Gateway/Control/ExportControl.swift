import Captures
import Modbus
import ModbusNIO
import SunSpec

/// Writes a SCADA sends to the SunSpec export (FC6, FC16), through the control pipeline: a write to
/// a device's export unit that covers whole allowed points is translated from the export's scale
/// factors to values, checked whole, written to the device, read back, audited, and answered then.
/// Exceptions: 1 where the device takes no writes through the export; 2 a point not allowed or only
/// part of one; 3 out of range or not representable; 4 device exception, not applied, timeout;
/// 6 busy; 0x0B offline.
public struct ExportControl: ModbusWriteHandler {
    let controller: Controller
    let units: [Int: DeviceConfig]

    /// The export's writes for the devices of `controller` that allow them (`control.export: true`).
    public init(controller: Controller, devices: [DeviceConfig]) {
        self.controller = controller
        var units: [Int: DeviceConfig] = [:]
        for device in devices where device.control?.export == true {
            if let unit = device.exportUnit { units[unit] = device }
        }
        self.units = units
    }

    public func write(unit: UInt8, function: WriteFunction, address: Int, registers: [UInt16], peer: String) async -> ServerWriteReply {
        guard let device = units[Int(unit)], let control = device.control else { return .exception(1) }
        let outcomes = await controller.exportWrite(
            device: device, control: control, function: function, address: address, registers: registers, peer: peer)
        if let refused = outcomes.first(where: { $0.result != .applied }), let code = refused.result.exportException {
            return .exception(code)
        }
        return .written
    }
}

extension Controller {
    /// The export's write of `registers` at `address` (export addresses) to `device`: one outcome per
    /// point it covers (each audited), or one refusal for the whole write.
    func exportWrite(
        device: DeviceConfig, control: DeviceControl, function: WriteFunction, address: Int, registers: [UInt16], peer: String
    ) async -> [ControlOutcome] {
        let client = ControlClient.export(peer)
        let span = address..<(address + registers.count)
        func refuse(_ outcome: ControlOutcome) -> [ControlOutcome] {
            report(
                ControlRecord(
                    timestamp: Timestamp.format(clocks.wall()), id: nil, client: client, op: "set", device: device.name,
                    point: "registers \(span.lowerBound)-\(span.upperBound - 1)", outcome: outcome))
            return [outcome]
        }
        guard let current = observer.registers(device.name) else {
            return refuse(ControlOutcome(.offline, error: "the device's map is not known"))
        }
        let image = current.standardMap()
        let map = ControlMap(image: image, models: ControlMap.chain(image, base: 40000), catalog: .builtin)
        var writes: [(ControlWrite, ClosedRange<Int>)] = []
        var covered = 0
        for point in control.allow {
            guard case .success(let found) = map.find(point.path) else { continue }
            let range = found.address...(found.address + found.size - 1)
            guard range.overlaps(span) else { continue }
            guard span.contains(range.lowerBound), span.contains(range.upperBound) else {
                return refuse(ControlOutcome(.notAllowed, error: "the write covers only part of \(point.path)"))
            }
            if let problem = found.scaleProblem { return refuse(ControlOutcome(.precondition, error: "on the export: \(problem)")) }
            let raw = Array(registers[(range.lowerBound - address)...(range.upperBound - address)])
            guard let value = found.decode(raw, found.scaleFactor) else {
                return refuse(ControlOutcome(.outOfRange, error: "\(point.path): \(raw) is the not-implemented value"))
            }
            writes.append((ControlWrite(point: point, value: value), range))
            covered += found.size
        }
        guard covered == registers.count, !writes.isEmpty else {
            return refuse(
                ControlOutcome(.notAllowed, error: "registers \(span.lowerBound)-\(span.upperBound - 1) are not all allowed points"))
        }
        let outcomes = await write(
            writes.map(\.0), device: device.name, rateLimited: true, context: AuditContext(id: nil, client: client, op: "set", ttl: nil))
        for (w, outcome) in zip(writes, outcomes) {
            report(
                ControlRecord(
                    timestamp: Timestamp.format(clocks.wall()), id: nil, client: client, op: "set", device: device.name,
                    point: w.0.point.path.description, value: w.0.value, outcome: outcome))
        }
        return outcomes
    }
}
