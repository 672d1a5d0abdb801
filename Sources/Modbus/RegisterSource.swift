/// What a served device answers to a read.
public enum ServerReply: Sendable, Equatable {
    /// The registers asked for.
    case registers([UInt16])
    /// A Modbus exception (2: illegal data address, 0x0B: gateway target failed to respond...).
    case exception(UInt8)
}

/// What a server did to a connection on its own, for its owner to log.
public enum ServerConnectionEvent: Sendable, Equatable {
    /// A connection with no complete request for `idle` (the idle timeout) was closed.
    case idleClosed(peer: String, idle: Duration)
    /// At the cap, the connection idle longest (`idle`) was closed to admit a new one.
    case evicted(peer: String, idle: Duration)
    /// At the cap, with no connection idle long enough to be closed, a new one was refused.
    case refused(peer: String)
}

/// The registers a server serves, by unit id.
public protocol RegisterSource: Sendable {
    /// The answer to a read of `count` registers of `unit` from `address`.
    func read(unit: UInt8, kind: RegisterKind, address: Int, count: Int) -> ServerReply
}

/// What a served device answers to a write.
public enum ServerWriteReply: Sendable, Equatable {
    /// The registers were written.
    case written
    /// A Modbus exception (1: not writable, 2: illegal data address, 3: illegal data value, 4: device failure...).
    case exception(UInt8)
}

/// Registers a server serves that can also be written (functions 6 and 16 through `ModbusResponder`).
public protocol WritableRegisterSource: RegisterSource {
    /// The answer to a write of `registers` of `unit` from `address` (for function 6, one register).
    func write(unit: UInt8, address: Int, registers: [UInt16]) -> ServerWriteReply
}
