import Modbus
import Profiles
import SunSpec

/// One device the gateway polls.
public struct DeviceConfig: Sendable {
    /// Its name in records.
    public var name: String
    /// Where it is.
    public var endpoint: Endpoint
    /// Its Modbus unit id.
    public var unit: Int
    /// Time between polls.
    public var interval: Duration
    /// Response timeout.
    public var timeout: Duration
    /// Where its SunS marker is; nil to discover.
    public var base: Int?
    /// Most registers per read.
    public var maxRegisters: Int
    /// The model ids to poll; nil for all.
    public var models: Set<Int>?
    /// Holding (function 3) or input (function 4) registers.
    public var registers: RegisterKind
    /// A vendor profile mapping the device's own registers onto SunSpec models (nil: a SunSpec device).
    public var profile: Profile?
    /// Fixes for a device whose SunSpec is broken.
    public var quirks: Quirks
    /// The unit id of the device on the SunSpec export (nil: not exported).
    public var exportUnit: Int?
    /// What may be written to the device (nil: nothing).
    public var control: DeviceControl?

    /// Creates a device configuration with the defaults of the config file.
    public init(
        name: String, endpoint: Endpoint, unit: Int = 1, interval: Duration = .seconds(1), timeout: Duration = .seconds(1),
        base: Int? = nil, maxRegisters: Int = 125, models: Set<Int>? = nil, registers: RegisterKind = .holding,
        profile: Profile? = nil, quirks: Quirks = Quirks(), exportUnit: Int? = nil, control: DeviceControl? = nil
    ) {
        self.control = control
        self.profile = profile
        self.quirks = quirks
        self.exportUnit = exportUnit
        self.name = name
        self.endpoint = endpoint
        self.unit = unit
        self.interval = interval
        self.timeout = timeout
        self.base = base
        self.maxRegisters = maxRegisters
        self.models = models
        self.registers = registers
    }
}

extension DeviceConfig: Equatable {
    public static func == (a: DeviceConfig, b: DeviceConfig) -> Bool {
        a.name == b.name && a.endpoint == b.endpoint && a.unit == b.unit && a.interval == b.interval && a.timeout == b.timeout
            && a.base == b.base && a.maxRegisters == b.maxRegisters && a.models == b.models && a.registers == b.registers
            && a.profile?.name == b.profile?.name && a.quirks == b.quirks && a.exportUnit == b.exportUnit
            && a.control?.allow.map(\.path) == b.control?.allow.map(\.path) && a.control?.heartbeat == b.control?.heartbeat
            && a.control?.export == b.control?.export && a.control?.writeFunction == b.control?.writeFunction
            && a.control?.settle == b.control?.settle
    }
}
