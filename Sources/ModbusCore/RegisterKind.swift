/// Which registers a read addresses: the one register kind of the link, the servers, the gateway's
/// configuration and the vendor profiles (spelled `holding` and `input` in YAML, the raw values).
public enum RegisterKind: String, Sendable, Hashable {
    /// Holding registers, function 3.
    case holding
    /// Input registers, function 4.
    case input

    /// The Modbus function code of a read (3 or 4).
    public var functionCode: Int { self == .holding ? 3 : 4 }
}
