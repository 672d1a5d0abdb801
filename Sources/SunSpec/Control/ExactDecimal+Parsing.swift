extension ExactDecimal {
    /// Parses number text as JSON and YAML write it (`-12.5`, `1e3`, `25000`, `+0.5`, `.5`); nil when
    /// the text is not a number or its value is not exactly a magnitude below 2^64 times a power
    /// of ten within -100...100. Trailing zeros go into the exponent (`25000` is 25 x 10^3).
    public init?(parsing text: some StringProtocol) {
        var bytes = Array(text.utf8)[...]
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        var magnitude: UInt64 = 0
        var exponent = 0
        var digits = 0
        var dropped = false  // a nonzero digit that did not fit
        var seenPoint = false
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: ".") {
                guard !seenPoint else { return nil }
                seenPoint = true
            } else if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                digits += 1
                let d = UInt64(b - UInt8(ascii: "0"))
                let (times, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (plus, o2) = times.addingReportingOverflow(d)
                if o1 || o2 {
                    // Too many digits: only zeros may follow (they raise the exponent instead).
                    if d != 0 { dropped = true }
                    if !seenPoint { exponent += 1 }
                } else {
                    magnitude = plus
                    if seenPoint { exponent -= 1 }
                }
            } else {
                break
            }
            i += 1
        }
        guard digits > 0, !dropped else { return nil }
        if i < bytes.endIndex {
            guard bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") else { return nil }
            var rest = bytes[(i + 1)...]
            var minus = false
            if let s = rest.first, s == UInt8(ascii: "-") || s == UInt8(ascii: "+") {
                minus = s == UInt8(ascii: "-")
                rest = rest.dropFirst()
            }
            guard !rest.isEmpty, rest.count <= 6, rest.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                return nil
            }
            var e = 0
            for b in rest { e = e * 10 + Int(b - UInt8(ascii: "0")) }
            exponent += minus ? -e : e
        }
        guard magnitude != 0 else {
            self.init(unsigned: 0, exponent: 0)
            return
        }
        while magnitude % 10 == 0 {
            magnitude /= 10
            exponent += 1
        }
        while exponent > 100 {
            let (times, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            magnitude = times
            exponent -= 1
        }
        guard exponent >= -100 else { return nil }
        self.init(magnitude: magnitude, negative: negative, exponent: exponent)
    }

    /// The same value with the trailing zeros of the magnitude moved into the exponent (0 as 0 x 10^0).
    public var normalized: ExactDecimal {
        guard magnitude != 0 else { return ExactDecimal(unsigned: 0, exponent: 0) }
        var m = magnitude
        var e = exponent
        while m % 10 == 0 && e < 100 {
            m /= 10
            e += 1
        }
        return ExactDecimal(magnitude: m, negative: negative, exponent: e)
    }

    /// Whether the value is a whole number.
    public var isInteger: Bool {
        let n = normalized
        return n.exponent >= 0
    }
}

// MARK: - Order

extension ExactDecimal: Comparable {
    /// Orders by value.
    public static func < (a: ExactDecimal, b: ExactDecimal) -> Bool {
        let x = a.normalized
        let y = b.normalized
        let xNegative = x.negative && x.magnitude != 0
        let yNegative = y.negative && y.magnitude != 0
        if xNegative != yNegative { return xNegative }
        let magnitudeLess = lessMagnitude(x, y)
        let magnitudeGreater = lessMagnitude(y, x)
        return xNegative ? magnitudeGreater : magnitudeLess
    }

    /// Whether |x| < |y|, for normalized values.
    private static func lessMagnitude(_ x: ExactDecimal, _ y: ExactDecimal) -> Bool {
        if x.magnitude == 0 { return y.magnitude != 0 }
        if y.magnitude == 0 { return false }
        let xDigits = Array(String(x.magnitude).utf8)
        let yDigits = Array(String(y.magnitude).utf8)
        // The position of the leading digit decides, then the digits themselves.
        let xOrder = xDigits.count + x.exponent
        let yOrder = yDigits.count + y.exponent
        if xOrder != yOrder { return xOrder < yOrder }
        let width = max(xDigits.count, yDigits.count)
        let xs = xDigits + [UInt8](repeating: UInt8(ascii: "0"), count: width - xDigits.count)
        let ys = yDigits + [UInt8](repeating: UInt8(ascii: "0"), count: width - yDigits.count)
        return xs.lexicographicallyPrecedes(ys)
    }
}
