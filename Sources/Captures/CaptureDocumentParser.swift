import SunSpec

/// A strict, single-pass parser of one capture document (`sunspec-gateway/registers`).
///
/// Captures are large arrays of small integers, and a recorded poll history holds thousands of them:
/// Foundation's JSONDecoder spends most of `decode`'s time there, so this reads the bytes directly.
/// It accepts standard JSON only (RFC 8259), skips keys it does not know, and reports errors with
/// the byte offset and the key path.
struct CaptureDocumentParser {
    struct Failure: Error {
        let offset: Int
        let message: String
    }

    struct Document {
        var format: String?
        var version: Int?
        var captured: String?
        var device: String?
        var unit: Int?
        var blocks: [Block]?
    }

    struct Block {
        var start: Int?
        var function: Int?
        /// Register values (two's complement for negative ones); 0 where the capture wrote null.
        var registers: [UInt16]?
        /// Indexes of the registers written as null (not captured).
        var holes: [Int] = []
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var i = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Parses a whole document.
    static func parse(_ bytes: ArraySlice<UInt8>) throws(Failure) -> Document {
        let result: Result<Document, Failure> = bytes.withUnsafeBufferPointer { buffer in
            var parser = CaptureDocumentParser(buffer)
            do throws(Failure) {
                let doc = try parser.document()
                parser.skipSpace()
                if parser.i < buffer.count { throw parser.fail("unexpected text after the document") }
                return .success(doc)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    // MARK: - The document

    private mutating func document() throws(Failure) -> Document {
        var doc = Document()
        try object { (parser: inout CaptureDocumentParser, key: String) throws(Failure) in
            switch key {
            case "format": doc.format = try parser.stringOrNull(key)
            case "version": doc.version = try parser.integerOrNull(key)
            case "captured": doc.captured = try parser.stringOrNull(key)
            case "device": doc.device = try parser.stringOrNull(key)
            case "unit": doc.unit = try parser.integerOrNull(key)
            case "blocks": doc.blocks = try parser.blocks()
            default: try parser.skipValue()
            }
        }
        return doc
    }

    private mutating func blocks() throws(Failure) -> [Block] {
        var blocks: [Block] = []
        try array { (parser: inout CaptureDocumentParser, index: Int) throws(Failure) in
            var block = Block()
            let path = "blocks[\(index)]"
            try parser.object { (parser: inout CaptureDocumentParser, key: String) throws(Failure) in
                switch key {
                case "start": block.start = try parser.integerOrNull("\(path).start")
                case "function": block.function = try parser.integerOrNull("\(path).function")
                case "registers": (block.registers, block.holes) = try parser.registers("\(path).registers")
                default: try parser.skipValue()
                }
            }
            blocks.append(block)
        }
        return blocks
    }

    /// The registers array: a tight loop for the common case (plain decimal integers), falling
    /// back to the general parser for anything else (null, whitespace oddities, errors).
    private mutating func registers(_ path: String) throws(Failure) -> ([UInt16], [Int]) {
        var values: [UInt16] = []
        var holes: [Int] = []
        values.reserveCapacity(256)
        try expect(UInt8(ascii: "["), "an array")
        skipSpace()
        if peek == UInt8(ascii: "]") {
            i += 1
            return (values, holes)
        }
        let count = bytes.count
        while true {
            // Fast path: digits, then ',' or ']'.
            var j = i
            var n = 0
            var digits = 0
            while j < count, bytes[j] &- 48 < 10, digits < 6 {
                n = n &* 10 &+ Int(bytes[j] &- 48)
                j += 1
                digits += 1
            }
            if digits > 0, digits < 6, n <= 65535, j < count, bytes[j] == UInt8(ascii: ",") || bytes[j] == UInt8(ascii: "]"),
                !(digits > 1 && bytes[i] == 48)
            {
                values.append(UInt16(truncatingIfNeeded: n))
                i = j + 1
                if bytes[j] == UInt8(ascii: "]") { return (values, holes) }
                continue
            }
            // General path for one element.
            let index = values.count
            skipSpace()
            if peek == UInt8(ascii: "n") {
                try literal("null")
                holes.append(index)
                values.append(0)
            } else {
                let valueStart = i
                guard let v = try integer() else { throw fail("\(path)[\(index)]: expected an integer") }
                guard v >= -32768 && v <= 65535 else {
                    throw Failure(offset: valueStart, message: "\(path)[\(index)]: \(v) is not a 16-bit register value")
                }
                values.append(UInt16(truncatingIfNeeded: v))
            }
            skipSpace()
            if peek == UInt8(ascii: ",") { i += 1; skipSpace(); continue }
            if peek == UInt8(ascii: "]") { i += 1; return (values, holes) }
            throw fail("expected ',' or ']'")
        }
    }

    // MARK: - JSON structure

    private var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    private func fail(_ message: String) -> Failure { Failure(offset: i, message: message) }

    private mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func expect(_ c: UInt8, _ what: String) throws(Failure) {
        skipSpace()
        guard peek == c else { throw fail("expected \(what)") }
        i += 1
    }

    private mutating func object(_ member: (inout CaptureDocumentParser, String) throws(Failure) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "{"), "an object")
        skipSpace()
        if peek == UInt8(ascii: "}") { i += 1; return }
        while true {
            skipSpace()
            guard peek == UInt8(ascii: "\"") else { throw fail("expected a key") }
            let key = try string()
            try expect(UInt8(ascii: ":"), "':'")
            try member(&self, key)
            skipSpace()
            if peek == UInt8(ascii: ",") { i += 1; continue }
            if peek == UInt8(ascii: "}") { i += 1; return }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func array(_ element: (inout CaptureDocumentParser, Int) throws(Failure) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "["), "an array")
        skipSpace()
        if peek == UInt8(ascii: "]") { i += 1; return }
        var index = 0
        while true {
            try element(&self, index)
            index += 1
            skipSpace()
            if peek == UInt8(ascii: ",") { i += 1; continue }
            if peek == UInt8(ascii: "]") { i += 1; return }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw fail("unexpected end of input") }
        for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw fail("invalid value") }
        i += n
    }

    /// An integer, or nil when the value is another number (a fraction or exponent) or not a number.
    private mutating func integer() throws(Failure) -> Int? {
        skipSpace()
        let start = i
        var negative = false
        if peek == UInt8(ascii: "-") { negative = true; i += 1 }
        guard let first = peek, first >= 48 && first <= 57 else {
            i = start
            return nil
        }
        if first == 48, i + 1 < bytes.count, bytes[i + 1] >= 48 && bytes[i + 1] <= 57 { throw fail("invalid number") }
        var value = 0
        while i < bytes.count {
            let c = bytes[i]
            guard c >= 48 && c <= 57 else { break }
            if value > 100_000_000_000 { throw fail("number too large") }
            value = value &* 10 &+ Int(c &- 48)
            i += 1
        }
        if let c = peek, c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            i = start
            try skipNumber()
            return nil
        }
        return negative ? -value : value
    }

    private mutating func integerOrNull(_ path: String) throws(Failure) -> Int? {
        skipSpace()
        if peek == UInt8(ascii: "n") { try literal("null"); return nil }
        guard let n = try integer() else { throw fail("\(path): expected an integer") }
        return n
    }

    private mutating func stringOrNull(_ path: String) throws(Failure) -> String? {
        skipSpace()
        if peek == UInt8(ascii: "n") { try literal("null"); return nil }
        guard peek == UInt8(ascii: "\"") else { throw fail("\(path): expected a string") }
        return try string()
    }

    private mutating func string() throws(Failure) -> String {
        i += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard let c = peek else { throw fail("unterminated string") }
            i += 1
            switch c {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let e = peek else { throw fail("unterminated string") }
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard i + 4 <= bytes.count,
                        let code = UInt32(String(decoding: UnsafeBufferPointer(rebasing: bytes[i..<(i + 4)]), as: UTF8.self), radix: 16)
                    else { throw fail("invalid \\u escape") }
                    i += 4
                    let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw fail("invalid escape")
                }
            case 0..<0x20:
                throw fail("control character in a string")
            default:
                out.append(c)
            }
        }
    }

    private mutating func skipNumber() throws(Failure) {
        let start = i
        while let c = peek, (c >= 48 && c <= 57) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
            || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
        {
            i += 1
        }
        if i == start { throw fail("invalid value") }
    }

    private mutating func skipValue() throws(Failure) {
        skipSpace()
        switch peek {
        case UInt8(ascii: "{")?: try object { (p: inout CaptureDocumentParser, _: String) throws(Failure) in try p.skipValue() }
        case UInt8(ascii: "[")?: try array { (p: inout CaptureDocumentParser, _: Int) throws(Failure) in try p.skipValue() }
        case UInt8(ascii: "\"")?: _ = try string()
        case UInt8(ascii: "t")?: try literal("true")
        case UInt8(ascii: "f")?: try literal("false")
        case UInt8(ascii: "n")?: try literal("null")
        case nil: throw fail("unexpected end of input")
        default: try skipNumber()
        }
    }
}
