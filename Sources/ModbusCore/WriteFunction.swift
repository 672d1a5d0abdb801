/// How registers are written: one register per request (write single register, function 6) or a run
/// of them in one request (write multiple registers, function 16). The gateway's device config
/// (`write_function`), the link and the servers share it.
public enum WriteFunction: Int, Sendable, Equatable {
    /// Write single register, function 6.
    case single = 6
    /// Write multiple registers, function 16 (1...123 registers).
    case multiple = 16

    /// The Modbus function code (6 or 16).
    public var functionCode: UInt8 { UInt8(rawValue) }
}
