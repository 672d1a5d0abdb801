// The Modbus protocol's pure types (`RegisterKind`) come with the module, as NIO's umbrella module
// re-exports NIOCore: whoever reads through a link names the kind without a second import.
@_exported import ModbusCore
