import Foundation
import MQTT
import SunSpec

/// A DCMD metric's value and ttl as a control `set` takes them. Integers are exact: signed when the
/// metric's `datatype` is Int8...Int64 (in `int_value` or `long_value`, two's complement in the
/// type's width or sign-extended to 32 or 64 bits), unsigned otherwise. Floats and doubles go through
/// their shortest text (`0.1` stays 0.1), NaN and infinities refused. Strings are enum symbols.
/// Booleans are refused: no SunSpec point the allow list takes is a boolean. A `ttl` property (a
/// String, `30s`) is the set's time to live.
enum SparkplugSetpoint {
    /// Why a metric's value (or ttl) cannot be a setpoint: the `error` of its `bad_request`.
    struct Refusal: Error, Equatable, CustomStringConvertible {
        let message: String
        init(_ message: String) { self.message = message }
        var description: String { message }
    }

    /// The setpoint of `value`, read as `datatype` (the schema's `DataType` number) when given.
    static func value(_ value: SparkplugValue, datatype: UInt32?) throws(Refusal) -> SetpointValue {
        switch value {
        case .int(let v): return .number(try integer(UInt64(v), signExtended: Int64(Int32(bitPattern: v)), datatype: datatype))
        case .long(let v): return .number(try integer(v, signExtended: Int64(bitPattern: v), datatype: datatype))
        case .float(let f):
            try expect(datatype, among: [9, 10], for: "a float value")
            return .number(try decimal(f.isFinite, "\(f)"))
        case .double(let d):
            try expect(datatype, among: [9, 10], for: "a double value")
            return .number(try decimal(d.isFinite, "\(d)"))
        case .string(let s):
            try expect(datatype, among: [12, 14], for: "a string value")
            return .symbol(s)
        case .boolean:
            throw Refusal("a Boolean value: no point takes one (send the point's number or enum symbol)")
        }
    }

    /// The `ttl` property: nil when there is none.
    static func ttl(_ properties: [String: SparkplugValue]) throws(Refusal) -> Duration? {
        guard let property = properties["ttl"] else { return nil }
        guard case .string(let text) = property else { throw Refusal("the ttl property is not a String (\"30s\", \"500ms\", \"5m\")") }
        guard let ttl = DurationText.parse(text), ttl > .zero else { throw Refusal("ttl \"\(text)\" is not a duration (30s, 500ms, 5m)") }
        return ttl
    }

    /// Names of the schema's data types, for messages.
    static func typeName(_ datatype: UInt32) -> String {
        let names = [
            "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float", "Double", "Boolean", "String", "DateTime",
            "Text",
        ]
        return (1...UInt32(names.count)).contains(datatype) ? names[Int(datatype) - 1] : "datatype \(datatype)"
    }

    // MARK: - Integers

    /// `raw` as the data type says: Int8...Int64 (1-4) signed, UInt8...UInt64 (5-8) or none unsigned.
    private static func integer(_ raw: UInt64, signExtended wide: Int64, datatype: UInt32?) throws(Refusal) -> ExactDecimal {
        guard let datatype else { return ExactDecimal(unsigned: raw, exponent: 0).normalized }
        switch datatype {
        case 1...4:
            let bits = 8 << (datatype - 1)
            let low = bits == 64 ? Int64.min : -(Int64(1) << (bits - 1))
            let high = bits == 64 ? Int64.max : (Int64(1) << (bits - 1)) - 1
            let value: Int64
            if bits == 64 || raw >> bits == 0 {
                // Two's complement in the type's own width.
                let shift = UInt64(64 - bits)
                value = Int64(bitPattern: raw << shift) >> shift
            } else if (low...high).contains(wide) {
                // Sign-extended to the field's width (32 bits in int_value, 64 in long_value).
                value = wide
            } else {
                throw Refusal("\(raw) is not an \(typeName(datatype))")
            }
            return ExactDecimal(value, exponent: 0).normalized
        case 5...8:
            let bits = 8 << (datatype - 5)
            guard bits == 64 || raw >> bits == 0 else { throw Refusal("\(raw) is not a \(typeName(datatype))") }
            return ExactDecimal(unsigned: raw, exponent: 0).normalized
        default:
            throw Refusal("an integer value for a metric of type \(typeName(datatype))")
        }
    }

    // MARK: - Helpers

    private static func expect(_ datatype: UInt32?, among types: [UInt32], for what: String) throws(Refusal) {
        guard let datatype, !types.contains(datatype) else { return }
        throw Refusal("\(what) for a metric of type \(typeName(datatype))")
    }

    private static func decimal(_ finite: Bool, _ text: String) throws(Refusal) -> ExactDecimal {
        guard finite else { throw Refusal("\(text) is not a number") }
        guard let number = ExactDecimal(parsing: text) else { throw Refusal("\(text) is not a number the gateway can hold exactly") }
        return number
    }
}
