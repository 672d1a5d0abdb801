/// A value to write, in engineering units: a number (scale factor not yet applied) or an enum or
/// bitfield symbol.
public enum SetpointValue: Sendable, Equatable, CustomStringConvertible {
    /// A number in the point's units (`25000` W, `12.5` %).
    case number(ExactDecimal)
    /// A symbol of the point (`CONNECT`; for a bitfield, the bit of that name set).
    case symbol(String)

    /// `25000`, `12.5`, `CONNECT`.
    public var description: String {
        switch self {
        case .number(let d): d.description
        case .symbol(let s): s
        }
    }
}

/// Why a setpoint cannot be written: the results of the control protocol that encoding decides.
public enum SetpointError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Outside what the point's type holds, its not-implemented value, or not one of its symbols.
    case outOfRange(String)
    /// Not an exact multiple of 10^scale factor (the scale factor is never changed to fit).
    case notRepresentable(String)
    /// The scale factor is unknown, not implemented or outside -10...10.
    case precondition(String)

    /// The message.
    public var description: String {
        switch self {
        case .outOfRange(let m), .notRepresentable(let m), .precondition(let m): m
        }
    }
}
