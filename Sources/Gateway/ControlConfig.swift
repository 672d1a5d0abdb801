import Foundation
import Modbus
import Profiles
import SunSpec

/// The top-level `control:` settings: the control socket, the audit file and the longest ttl.
///
/// ```yaml
/// control:
///   socket: {path: /run/sunspec-gateway/control.sock, mode: "0600"}
///   audit: /var/lib/sunspec-gateway/audit.jsonl
///   max_ttl: 300s
/// ```
public struct ControlSettings: Sendable, Equatable {
    /// Path of the control socket (not the readings socket).
    public var socketPath: String
    /// Its file mode (0600 by default).
    public var socketMode: mode_t
    /// The append-only NDJSON audit file (required: every request is audited).
    public var auditPath: String
    /// The longest `ttl` a `set` may ask for (300 s by default).
    public var maxTTL: Duration

    /// Creates settings.
    public init(
        socketPath: String = "/run/sunspec-gateway/control.sock", socketMode: mode_t = 0o600, auditPath: String,
        maxTTL: Duration = .seconds(300)
    ) {
        self.socketPath = socketPath
        self.socketMode = socketMode
        self.auditPath = auditPath
        self.maxTTL = maxTTL
    }
}

/// One point a device lets be written, with its limits, checked at load.
public struct AllowedPoint: Sendable {
    /// The point, as the allow list names it.
    public let path: PointPath
    /// Its definition (the device's catalog, quirks applied).
    public let definition: PointDefinition
    /// Its model's definition.
    public let model: ModelDefinition
    /// Smallest value accepted, in engineering units.
    public let min: ExactDecimal?
    /// Largest value accepted.
    public let max: ExactDecimal?
    /// The enum symbols accepted (nil: any symbol of the point).
    public let values: [String]?
    /// What `release` and an expired ttl write.
    public let revert: SetpointValue?
    /// Shortest time between two writes of the point.
    public let minInterval: Duration?
    /// Where the point is written on a profile device (nil: a SunSpec device).
    public let vendor: VendorWriteTarget?

    /// Creates an allowed point.
    public init(
        path: PointPath, definition: PointDefinition, model: ModelDefinition, min: ExactDecimal? = nil, max: ExactDecimal? = nil,
        values: [String]? = nil, revert: SetpointValue? = nil, minInterval: Duration? = nil, vendor: VendorWriteTarget? = nil
    ) {
        self.path = path
        self.definition = definition
        self.model = model
        self.min = min
        self.max = max
        self.values = values
        self.revert = revert
        self.minInterval = minInterval
        self.vendor = vendor
    }
}

/// A device's `control:`: what may be written to it and how.
public struct DeviceControl: Sendable {
    /// The allowed points, in the file's order; nothing else is written.
    public var allow: [AllowedPoint]
    /// A heartbeat point incremented and written every second while the device is online.
    public var heartbeat: PointPath?
    /// Its definition.
    public var heartbeatDefinition: PointDefinition?
    /// Where the heartbeat is written on a profile device.
    public var heartbeatVendor: VendorWriteTarget?
    /// Whether the SunSpec export takes writes of the allowed points.
    public var export: Bool
    /// FC16 (default) or FC6.
    public var writeFunction: WriteFunction
    /// Wait between a write and its read-back (0 by default).
    public var settle: Duration

    /// Creates a device's control settings.
    public init(
        allow: [AllowedPoint], heartbeat: PointPath? = nil, heartbeatDefinition: PointDefinition? = nil,
        heartbeatVendor: VendorWriteTarget? = nil, export: Bool = false, writeFunction: WriteFunction = .multiple,
        settle: Duration = .zero
    ) {
        self.allow = allow
        self.heartbeat = heartbeat
        self.heartbeatDefinition = heartbeatDefinition
        self.heartbeatVendor = heartbeatVendor
        self.export = export
        self.writeFunction = writeFunction
        self.settle = settle
    }

    /// The allowed point `path` names, if any.
    public func allowed(_ path: PointPath) -> AllowedPoint? {
        allow.first { $0.path == path }
    }
}
