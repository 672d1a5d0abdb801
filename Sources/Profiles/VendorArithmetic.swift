import SunSpec

/// Exact decimal arithmetic for a vendor register's transform, `sunspec = ±(raw × scale + offset)`,
/// and its inverse.
enum VendorArithmetic {
    /// The raw integer for a SunSpec value: `(±value - offset) / scale`, exactly.
    static func inverse(
        _ value: ExactDecimal, scale: ExactDecimal, offset: ExactDecimal, invert: Bool, what: String
    ) throws(SetpointError)
        -> Int128
    {
        let v = invert ? negated(value) : value
        guard let (a, ea) = difference(v, offset) else { throw .outOfRange("\(what) is too large") }
        let s = signed(scale.normalized)
        let es = scale.normalized.exponent
        guard s != 0, a % s == 0 else { throw .notRepresentable("\(what) is not a whole raw value (scale \(scale), offset \(offset))") }
        var q = a / s
        let k = ea - es
        if k >= 0 {
            for _ in 0..<min(k, 40) {
                let (m, overflow) = q.multipliedReportingOverflow(by: 10)
                guard !overflow else { throw .outOfRange("\(what) is too large") }
                q = m
            }
        } else {
            for _ in 0..<(-k) {
                guard q % 10 == 0 else {
                    throw .notRepresentable("\(what) is not a whole raw value (scale \(scale), offset \(offset))")
                }
                q /= 10
            }
        }
        return q
    }

    /// The SunSpec value of a raw integer, or nil when it is not an exact decimal of 64 bits.
    static func forward(_ raw: Int64, scale: ExactDecimal, offset: ExactDecimal, invert: Bool) -> ExactDecimal? {
        let s = scale.normalized
        let product = Int128(raw).multipliedReportingOverflow(by: signed(s))
        guard !product.overflow else { return nil }
        let scaled = decimal(product.partialValue, exponent: s.exponent)
        guard let scaled, let (sum, e) = difference(scaled, negated(offset)) else { return nil }
        guard let result = decimal(sum, exponent: e) else { return nil }
        return invert ? negated(result) : result
    }

    // MARK: - Parts

    static func negated(_ d: ExactDecimal) -> ExactDecimal {
        ExactDecimal(magnitude: d.magnitude, negative: !d.negative, exponent: d.exponent)
    }

    static func signed(_ d: ExactDecimal) -> Int128 { d.negative ? -Int128(d.magnitude) : Int128(d.magnitude) }

    /// `a - b` as an integer and a power of ten; nil when the exponents are too far apart to align.
    static func difference(_ a: ExactDecimal, _ b: ExactDecimal) -> (Int128, Int)? {
        let x = a.normalized
        let y = b.normalized
        let e = min(x.exponent, y.exponent)
        guard let xs = aligned(signed(x), by: x.exponent - e), let ys = aligned(signed(y), by: y.exponent - e) else { return nil }
        let (d, overflow) = xs.subtractingReportingOverflow(ys)
        return overflow ? nil : (d, e)
    }

    private static func aligned(_ v: Int128, by k: Int) -> Int128? {
        guard k <= 30 else { return v == 0 ? 0 : nil }
        var out = v
        for _ in 0..<k {
            let (m, overflow) = out.multipliedReportingOverflow(by: 10)
            if overflow { return nil }
            out = m
        }
        return out
    }

    /// `v × 10^exponent` as an ExactDecimal, when its magnitude fits 64 bits once trailing zeros are moved out.
    static func decimal(_ v: Int128, exponent: Int) -> ExactDecimal? {
        var m = v.magnitude
        var e = exponent
        while m != 0 && m % 10 == 0 {
            m /= 10
            e += 1
        }
        guard let magnitude = UInt64(exactly: m), (-100...100).contains(m == 0 ? 0 : e) else { return nil }
        return ExactDecimal(magnitude: magnitude, negative: v < 0, exponent: m == 0 ? 0 : e)
    }
}
