/// A strict, single-pass JSON (RFC 8259) reader over bytes, for the formats the gateway reads in
/// bulk: captures and model definitions. Foundation's decoders spent most of `decode`'s time there;
/// this reads values where they stand, and its errors carry the byte offset.
public struct JSONScanner {
    /// A syntax or shape error, at a byte offset of the input.
    public struct Failure: Error, Sendable {
        /// Offset of the byte where the problem was seen.
        public let offset: Int
        /// What is wrong (with the key path, where the caller gave one).
        public let message: String
        /// Creates a failure.
        public init(offset: Int, message: String) {
            self.offset = offset
            self.message = message
        }
    }

    /// The input.
    public let bytes: UnsafeBufferPointer<UInt8>
    /// Offset of the next byte to read.
    public var position = 0
    /// Objects and arrays open at the current position.
    public private(set) var depth = 0
    /// The deepest nesting read (objects and arrays): deeper input is refused at its byte offset
    /// rather than exhausting the stack, as readers recurse once per level.
    public static let maxDepth = 512

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Reads one whole JSON document with `body`; anything but blanks after it is an error.
    public static func scan<T>(_ input: ArraySlice<UInt8>, _ body: (inout JSONScanner) throws(Failure) -> T) throws(Failure) -> T {
        let result: Result<T, Failure> = input.withUnsafeBufferPointer { buffer in
            var scanner = JSONScanner(buffer)
            do throws(Failure) {
                let value = try body(&scanner)
                scanner.skipSpace()
                if scanner.position < buffer.count { throw scanner.fail("unexpected text after the document") }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    // MARK: - Structure

    /// The next byte, if any.
    public var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    /// A failure at the current position.
    public func fail(_ message: String) -> Failure { Failure(offset: position, message: message) }

    /// Skips blanks.
    public mutating func skipSpace() {
        while position < bytes.count {
            let c = bytes[position]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            position += 1
        }
    }

    /// Consumes `c` after blanks, or fails saying `what` was expected.
    public mutating func expect(_ c: UInt8, _ what: String) throws(Failure) {
        skipSpace()
        guard peek == c else { throw fail("expected \(what)") }
        position += 1
    }

    /// Whether the next value is `null` (consumed if so).
    public mutating func null() throws(Failure) -> Bool {
        skipSpace()
        guard peek == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    /// Reads an object, calling `member` for each key with the scanner at its value.
    public mutating func object(_ member: (inout JSONScanner, String) throws(Failure) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "{"), "an object")
        try enter()
        defer { depth -= 1 }
        skipSpace()
        if peek == UInt8(ascii: "}") {
            position += 1
            return
        }
        while true {
            skipSpace()
            guard peek == UInt8(ascii: "\"") else { throw fail("expected a key") }
            let key = try string()
            try expect(UInt8(ascii: ":"), "':'")
            try member(&self, key)
            skipSpace()
            if peek == UInt8(ascii: ",") { position += 1; continue }
            if peek == UInt8(ascii: "}") { position += 1; return }
            throw fail("expected ',' or '}'")
        }
    }

    /// Reads an array, calling `element` with each index and the scanner at the element.
    public mutating func array(_ element: (inout JSONScanner, Int) throws(Failure) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "["), "an array")
        try enter()
        defer { depth -= 1 }
        skipSpace()
        if peek == UInt8(ascii: "]") {
            position += 1
            return
        }
        var index = 0
        while true {
            try element(&self, index)
            index += 1
            skipSpace()
            if peek == UInt8(ascii: ",") { position += 1; continue }
            if peek == UInt8(ascii: "]") { position += 1; return }
            throw fail("expected ',' or ']'")
        }
    }

    /// One level deeper, just past its opening bracket; refused past `maxDepth`.
    private mutating func enter() throws(Failure) {
        depth += 1
        guard depth <= Self.maxDepth else {
            throw Failure(offset: position - 1, message: "nesting deeper than \(Self.maxDepth) levels")
        }
    }

    /// Consumes a literal word (`null`, `true`, `false`).
    public mutating func literal(_ word: StaticString) throws(Failure) {
        let n = word.utf8CodeUnitCount
        guard position + n <= bytes.count else { throw fail("unexpected end of input") }
        for k in 0..<n where bytes[position + k] != word.utf8Start[k] { throw fail("invalid value") }
        position += n
    }

    // MARK: - Values

    /// An integer; nil (nothing consumed) when the next value is not a number, and nil (the number
    /// consumed) when it has a fraction or exponent.
    public mutating func integer() throws(Failure) -> Int? {
        skipSpace()
        let start = position
        var negative = false
        if peek == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        guard let first = peek, first >= 48 && first <= 57 else {
            position = start
            return nil
        }
        if first == 48, position + 1 < bytes.count, bytes[position + 1] >= 48 && bytes[position + 1] <= 57 {
            throw fail("invalid number")
        }
        var value = 0
        while position < bytes.count {
            let c = bytes[position]
            guard c >= 48 && c <= 57 else { break }
            if value > 100_000_000_000_000 { throw fail("number too large") }
            value = value &* 10 &+ Int(c &- 48)
            position += 1
        }
        if let c = peek, c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            position = start
            try skipNumber()
            return nil
        }
        return negative ? -value : value
    }

    /// A number of any form, as a Double; nil (nothing consumed) when the next value is not a number.
    public mutating func number() throws(Failure) -> Double? {
        skipSpace()
        let start = position
        guard let c = peek, c == UInt8(ascii: "-") || (c >= 48 && c <= 57) else { return nil }
        try skipNumber()
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text) else {
            position = start
            throw fail("invalid number")
        }
        return value
    }

    /// An integer or null at `path`.
    public mutating func integerOrNull(_ path: String) throws(Failure) -> Int? {
        if try null() { return nil }
        guard let n = try integer() else { throw fail("\(path): expected an integer") }
        return n
    }

    /// A string or null at `path`.
    public mutating func stringOrNull(_ path: String) throws(Failure) -> String? {
        if try null() { return nil }
        guard peek == UInt8(ascii: "\"") else { throw fail("\(path): expected a string") }
        return try string()
    }

    /// A string at `path`.
    public mutating func string(_ path: String) throws(Failure) -> String {
        skipSpace()
        guard peek == UInt8(ascii: "\"") else { throw fail("\(path): expected a string") }
        return try string()
    }

    /// The string starting at the current quote.
    public mutating func string() throws(Failure) -> String {
        position += 1  // opening quote
        let start = position
        // Fast path: no escapes.
        while position < bytes.count {
            let c = bytes[position]
            if c == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return text
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { break }
            position += 1
        }
        var out = Array(bytes[start..<position])
        while true {
            guard let c = peek else { throw fail("unterminated string") }
            position += 1
            switch c {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let e = peek else { throw fail("unterminated string") }
                position += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard position + 4 <= bytes.count,
                        let code = UInt32(
                            String(decoding: UnsafeBufferPointer(rebasing: bytes[position..<(position + 4)]), as: UTF8.self), radix: 16)
                    else { throw fail("invalid \\u escape") }
                    position += 4
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(code) ?? "\u{FFFD}")).utf8))
                default: throw fail("invalid escape")
                }
            case 0..<0x20:
                throw fail("control character in a string")
            default:
                out.append(c)
            }
        }
    }

    /// Skips a number.
    public mutating func skipNumber() throws(Failure) {
        let start = position
        while let c = peek,
            (c >= 48 && c <= 57) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
        {
            position += 1
        }
        if position == start { throw fail("invalid value") }
    }

    /// Skips any value.
    public mutating func skipValue() throws(Failure) {
        skipSpace()
        switch peek {
        case UInt8(ascii: "{")?: try object { (s: inout JSONScanner, _: String) throws(Failure) in try s.skipValue() }
        case UInt8(ascii: "[")?: try array { (s: inout JSONScanner, _: Int) throws(Failure) in try s.skipValue() }
        case UInt8(ascii: "\"")?: _ = try string()
        case UInt8(ascii: "t")?: try literal("true")
        case UInt8(ascii: "f")?: try literal("false")
        case UInt8(ascii: "n")?: try literal("null")
        case nil: throw fail("unexpected end of input")
        default: try skipNumber()
        }
    }
}
