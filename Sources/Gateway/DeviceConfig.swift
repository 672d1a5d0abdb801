import Modbus

/// One device the gateway polls.
public struct DeviceConfig: Sendable, Equatable {
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

    /// Creates a device configuration with the defaults of the config file.
    public init(
        name: String, endpoint: Endpoint, unit: Int = 1, interval: Duration = .seconds(1), timeout: Duration = .seconds(1),
        base: Int? = nil, maxRegisters: Int = 125, models: Set<Int>? = nil, registers: RegisterKind = .holding
    ) {
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
