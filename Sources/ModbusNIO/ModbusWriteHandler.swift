import Modbus

/// Answers the writes (functions 6 and 16) a `ModbusServer` receives, asynchronously: the export
/// hands them to the gateway's control pipeline, which answers after the device has (or has not)
/// taken them. Requests reach it well-formed (a malformed one is answered with exception 3 at once).
public protocol ModbusWriteHandler: Sendable {
    /// The answer to a write of `registers` of `unit` from `address` by the client `peer`
    /// (`address:port`); for `.single`, one register.
    func write(unit: UInt8, function: WriteFunction, address: Int, registers: [UInt16], peer: String) async -> ServerWriteReply
}
