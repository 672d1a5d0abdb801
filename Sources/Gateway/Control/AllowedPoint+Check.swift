import SunSpec

extension AllowedPoint {
    /// Why `value` is refused by the allow list's limits (nil: within them). The encoder checks the
    /// rest (the type's range, its not-implemented value, the scale factor) against the device.
    func refusal(of value: SetpointValue) -> ControlOutcome? {
        if let values {
            let symbol: String? =
                switch value {
                case .symbol(let s): s
                case .number(let n): definition.symbols.first { Self.same(ExactDecimal($0.value, exponent: 0), n) }?.name
                }
            guard let symbol, values.contains(symbol) else {
                return ControlOutcome(.outOfRange, error: "\(path): \(value) is not one of \(values.joined(separator: ", "))")
            }
        }
        guard min != nil || max != nil else { return nil }
        guard case .number(let n) = value else {
            return ControlOutcome(.outOfRange, error: "\(path): \(value) is not a number")
        }
        if let min, n < min { return ControlOutcome(.outOfRange, error: "\(path): \(n) is below the allowed minimum \(min)") }
        if let max, n > max { return ControlOutcome(.outOfRange, error: "\(path): \(n) is above the allowed maximum \(max)") }
        return nil
    }

    /// Whether two decimals are the same number (`5` and `5.0`).
    static func same(_ a: ExactDecimal, _ b: ExactDecimal) -> Bool { !(a < b) && !(b < a) }
}
