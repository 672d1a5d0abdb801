import Foundation
import SunSpec

/// One model instance of a device, as read at a moment.
public struct Reading: Sendable {
    /// The device's name.
    public var device: String
    /// The model instance with its decoded values.
    public var instance: ModelInstance
    /// When the last of its registers arrived (nil: none arrived in this poll).
    public var timestamp: Date?
    /// Where the values come from: nil for the device's own SunSpec map, `profile:NAME` for a map a
    /// vendor profile made.
    public var source: String?

    /// Creates a reading.
    public init(device: String, instance: ModelInstance, timestamp: Date?, source: String? = nil) {
        self.device = device
        self.instance = instance
        self.timestamp = timestamp
        self.source = source
    }
}

/// A device's SunSpec registers as last read, for outputs that serve registers (the export).
public struct DeviceRegisters: Sendable {
    /// The registers.
    public var image: RegisterImage
    /// The models on the device's chain, where `image` holds them; nil when `image` is already a
    /// standard map (`SunS` at 40000, the models, the end marker), as a profile makes it.
    public var models: [ModelHeader]?

    /// Creates the registers of a device.
    public init(image: RegisterImage, models: [ModelHeader]?) {
        self.image = image
        self.models = models
    }

    /// The registers as a standard map at 40000.
    public func standardMap() -> RegisterImage {
        guard let models else { return image }
        return ExportStore.relocate(image, models: models)
    }
}

/// What a device runner reports, in order, to the gateway's sinks.
public enum GatewayEvent: Sendable {
    /// The device's state changed. `discovering` means its map is being found again: what was known
    /// of it (its models, its readings) no longer holds.
    case status(DeviceStatus)
    /// The device's map was found: these are its model instances from now on (their meta), each with
    /// its first reading.
    case discovered(device: String, readings: [Reading])
    /// One poll's readings of a device.
    case readings(device: String, [Reading])
    /// A device's registers after a discovery or poll (sent before that discovery's or poll's readings).
    case registers(device: String, DeviceRegisters)
    /// A control request and what became of it (the audit's record).
    case control(ControlRecord)
}

/// An output of the gateway: the socket stream, the SunSpec export, and later MQTT and metrics.
/// Events arrive from the device runners' tasks, several at once; `receive` must not block.
public protocol GatewaySink: Sendable {
    /// Takes one event.
    func receive(_ event: GatewayEvent)
}

/// Several sinks as one: each event goes to each, in order.
public struct Sinks: GatewaySink {
    let sinks: [any GatewaySink]

    /// The sinks, in the order events reach them.
    public init(_ sinks: [any GatewaySink]) { self.sinks = sinks }

    public func receive(_ event: GatewayEvent) {
        for sink in sinks { sink.receive(event) }
    }
}
