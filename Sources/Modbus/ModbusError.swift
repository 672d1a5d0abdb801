import CModbus

#if canImport(Glibc)
    import Glibc
#endif

/// A failed Modbus transaction: what went wrong, in which call, for which unit and address.
public struct ModbusError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// The device answered with a Modbus exception (1 illegal function, 2 illegal data address,
        /// 3 illegal data value, 4 device failure, 6 busy, 0x0B gateway target failed to respond...).
        case exception(UInt8)
        /// A frame arrived but was wrong: bad CRC, bad data, wrong unit, unknown exception.
        case badResponse(String)
        /// No (complete) answer within the response timeout.
        case timeout
        /// The connection or serial line is gone (reset, broken pipe, I/O error, refused).
        case connectionLost(String)
        /// A request libmodbus refused before any I/O (too many registers).
        case invalidRequest(String)
        /// Another system error.
        case system(Int32, String)
        /// The request's task was cancelled before the request went on the wire: the caller is
        /// stopping, the device is not at fault.
        case cancelled
    }

    /// What went wrong.
    public let kind: Kind
    /// The operation: `connect`, `read holding registers`, ...
    public let operation: String
    /// The unit id addressed, if any.
    public let unit: Int?
    /// The first register address, if any.
    public let address: Int?

    /// Creates an error.
    public init(_ kind: Kind, operation: String, unit: Int? = nil, address: Int? = nil) {
        self.kind = kind
        self.operation = operation
        self.unit = unit
        self.address = address
    }

    /// Builds the error for `errno` right after a failed libmodbus call.
    static func fromErrno(_ code: Int32, operation: String, unit: Int?, address: Int?) -> ModbusError {
        let kind: Kind
        let base = CMODBUS_ENOBASE
        switch code {
        case base + 1...base + 11:
            kind = .exception(UInt8(code - base))
        case CMODBUS_EMBBADCRC: kind = .badResponse("bad CRC")
        case CMODBUS_EMBBADDATA: kind = .badResponse("bad data")
        case CMODBUS_EMBBADEXC: kind = .badResponse("invalid exception code")
        case CMODBUS_EMBUNKEXC: kind = .badResponse("unknown exception code")
        case CMODBUS_EMBBADSLAVE: kind = .badResponse("response from another unit")
        case CMODBUS_EMBMDATA: kind = .invalidRequest("too many registers requested")
        case ETIMEDOUT: kind = .timeout
        case ECONNRESET, EPIPE, EIO, ENOTCONN, ECONNREFUSED, EBADF, ECONNABORTED, ENETUNREACH, EHOSTUNREACH, ENOENT, ENXIO, ENODEV:
            kind = .connectionLost(Self.describe(errno: code))
        default: kind = .system(code, Self.describe(errno: code))
        }
        return ModbusError(kind, operation: operation, unit: unit, address: address)
    }

    /// The text of an errno value (strerror_r: modbus_strerror is not thread-safe).
    static func describe(errno code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let text: String = buffer.withUnsafeMutableBufferPointer { buf in
            // The XSI strerror_r: 0 and the message in the buffer.
            guard strerror_r(code, buf.baseAddress!, buf.count) == 0 else { return "errno \(code)" }
            return String(cString: buf.baseAddress!)
        }
        return text
    }

    /// Whether the link should be closed and opened again after this error.
    public var needsReconnect: Bool {
        if case .connectionLost = kind { return true }
        if case .system = kind { return true }
        return false
    }

    /// Whether a device answered with exception `code`.
    public func isException(_ code: UInt8) -> Bool { kind == .exception(code) }

    public var description: String {
        var where_ = operation
        if let unit { where_ += " unit \(unit)" }
        if let address { where_ += " at \(address)" }
        switch kind {
        case .exception(let code): return "\(where_): Modbus exception \(code) (\(Self.exceptionName(code)))"
        case .badResponse(let why): return "\(where_): bad response (\(why))"
        case .timeout: return "\(where_): timed out"
        case .connectionLost(let why): return "\(where_): connection lost (\(why))"
        case .invalidRequest(let why): return "\(where_): invalid request (\(why))"
        case .system(_, let why): return "\(where_): \(why)"
        case .cancelled: return "\(where_): cancelled"
        }
    }

    /// The standard name of a Modbus exception code.
    public static func exceptionName(_ code: UInt8) -> String {
        switch code {
        case 1: "illegal function"
        case 2: "illegal data address"
        case 3: "illegal data value"
        case 4: "server device failure"
        case 5: "acknowledge"
        case 6: "server device busy"
        case 8: "memory parity error"
        case 0x0A: "gateway path unavailable"
        case 0x0B: "gateway target device failed to respond"
        default: "code \(code)"
        }
    }
}
