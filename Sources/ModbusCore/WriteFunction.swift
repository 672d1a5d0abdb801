/// The Modbus function that writes holding registers: 6 (one register per request) or 16 (several
/// in one request; the default, some devices take only 6).
public enum WriteFunction: Int, Sendable, Equatable { case single = 6, multiple = 16 }
