import SunSpec

/// What a device is doing, as `status` records report it.
public enum DeviceState: String, Sendable {
    case discovering, online, offline
}

/// A device's state at a moment.
public struct DeviceStatus: Sendable, Equatable {
    /// The device's name.
    public var device: String
    /// Its state.
    public var state: DeviceState
    /// Why it is offline, if it is.
    public var error: String?
    /// The model ids found on it (empty until discovered).
    public var models: [Int]
    /// When the state was entered.
    public var timestamp: String

    /// Creates a status.
    public init(device: String, state: DeviceState, error: String? = nil, models: [Int] = [], timestamp: String) {
        self.device = device
        self.state = state
        self.error = error
        self.models = models
        self.timestamp = timestamp
    }
}

/// The stream's own records: `hello` on connect and `status` on every change of a device's state.
public enum StreamRecords {
    /// The version the hello record names.
    public static let gatewayVersion = "0.2.0"

    /// `{"type":"hello","schema":1,"gateway":"sunspec-gateway","version":"...","devices":[...]}`
    public static func hello(devices: [String]) -> [UInt8] {
        var out = JSONBuffer(capacity: 256)
        out.raw("{\"type\":\"hello\",\"schema\":1,\"gateway\":\"sunspec-gateway\",\"version\":")
        out.string(gatewayVersion)
        out.raw(",\"devices\":[")
        for (i, d) in devices.enumerated() {
            if i > 0 { out.byte(UInt8(ascii: ",")) }
            out.string(d)
        }
        out.raw("]}\n")
        return out.bytes
    }

    /// `{"type":"status","device":..,"ts":..,"state":..,"error":..,"models":[..]}`
    public static func status(_ s: DeviceStatus) -> [UInt8] {
        var out = JSONBuffer(capacity: 256)
        out.raw("{\"type\":\"status\",\"device\":")
        out.string(s.device)
        out.raw(",\"ts\":")
        out.string(s.timestamp)
        out.raw(",\"state\":")
        out.string(s.state.rawValue)
        out.raw(",\"error\":")
        if let e = s.error { out.string(e) } else { out.raw("null") }
        out.raw(",\"models\":[")
        for (i, m) in s.models.enumerated() {
            if i > 0 { out.byte(UInt8(ascii: ",")) }
            out.int(Int64(m))
        }
        out.raw("]}\n")
        return out.bytes
    }

    /// `{"type":"refused","reason":".."}`: the last line a connection the gateway cannot serve gets.
    public static func refused(reason: String) -> [UInt8] {
        var out = JSONBuffer(capacity: 128)
        out.raw("{\"type\":\"refused\",\"reason\":")
        out.string(reason)
        out.raw("}\n")
        return out.bytes
    }
}
