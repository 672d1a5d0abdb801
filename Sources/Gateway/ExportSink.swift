/// The SunSpec export's sink: each exported device's registers, as a standard map at 40000, go to
/// its export unit; a device that is not online (offline, or its map being found again) answers
/// 0x0B until its map is read again.
public struct ExportSink: GatewaySink {
    let store: ExportStore
    /// Export unit ids by device name.
    let units: [String: Int]

    /// A sink for the devices that have an export unit.
    public init(store: ExportStore, devices: [DeviceConfig]) {
        self.store = store
        var units: [String: Int] = [:]
        for device in devices { if let unit = device.exportUnit { units[device.name] = unit } }
        self.units = units
    }

    public func receive(_ event: GatewayEvent) {
        switch event {
        case .registers(let device, let registers):
            guard let unit = units[device] else { return }
            store.update(unit: unit, image: registers.standardMap())
        case .status(let status):
            guard status.state != .online, let unit = units[status.device] else { return }
            store.setOffline(unit: unit)
        case .discovered, .readings, .control:
            break
        }
    }
}
