/// Where a Modbus link goes: a TCP server, or a serial line (RTU).
public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// Modbus TCP to a host name or address and port.
    case tcp(host: String, port: Int)
    /// Modbus RTU on a serial device.
    case rtu(SerialSettings)

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .rtu(let s): "\(s.port)@\(s.baud)/\(s.dataBits)\(s.parity.rawValue)\(s.stopBits)"
        }
    }

    /// Parses `HOST[:PORT]` (default port 502; IPv6 as `[addr]:port`).
    public static func parseTCP(_ text: String, defaultPort: Int = 502) -> Endpoint? {
        var host = Substring(text)
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()) else { return nil }
                port = p
            }
        } else if let colon = host.lastIndex(of: ":"), host.filter({ $0 == ":" }).count == 1 {
            guard let p = Int(host[host.index(after: colon)...]) else { return nil }
            port = p
            host = host[..<colon]
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        return .tcp(host: String(host), port: port)
    }
}

/// Serial line settings for Modbus RTU.
public struct SerialSettings: Sendable, Hashable {
    /// Parity.
    public enum Parity: String, Sendable, Hashable {
        case none = "N", even = "E", odd = "O"
    }

    /// The serial device (`/dev/ttyUSB0`).
    public var port: String
    /// Baud rate.
    public var baud: Int
    /// Parity (Modbus default: even).
    public var parity: Parity
    /// Data bits (8 for RTU).
    public var dataBits: Int
    /// Stop bits (1, or 2 without parity).
    public var stopBits: Int

    /// Creates settings; the defaults are the Modbus RTU defaults (19200 8E1).
    public init(port: String, baud: Int = 19200, parity: Parity = .even, dataBits: Int = 8, stopBits: Int = 1) {
        self.port = port
        self.baud = baud
        self.parity = parity
        self.dataBits = dataBits
        self.stopBits = stopBits
    }

    /// Bits on the wire per character: start, data, parity, stop.
    public var bitsPerCharacter: Int { 1 + dataBits + (parity == .none ? 0 : 1) + stopBits }

    /// The silence that separates frames: 3.5 characters, at least 1.75 ms (the spec's value above 19200 baud).
    public var interFrameDelay: Duration {
        let seconds = 3.5 * Double(bitsPerCharacter) / Double(max(baud, 1))
        return baud > 19200 ? .microseconds(1750) : .microseconds(Int64((seconds * 1_000_000).rounded(.up)))
    }
}
