import SunSpec

/// Reads one capture document (`sunspec-gateway/registers`) with `JSONScanner`: keys it does not
/// know are skipped, register arrays take a tight loop (a recorded history is thousands of them).
enum CaptureDocumentParser {
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

    /// Parses a whole document.
    static func parse(_ bytes: ArraySlice<UInt8>) throws(JSONScanner.Failure) -> Document {
        try JSONScanner.scan(bytes) { (scanner: inout JSONScanner) throws(JSONScanner.Failure) in
            try document(&scanner)
        }
    }

    // MARK: - The document

    private static func document(_ scanner: inout JSONScanner) throws(JSONScanner.Failure) -> Document {
        var doc = Document()
        try scanner.object { (parser: inout JSONScanner, key: String) throws(JSONScanner.Failure) in
            switch key {
            case "format": doc.format = try parser.stringOrNull(key)
            case "version": doc.version = try parser.integerOrNull(key)
            case "captured": doc.captured = try parser.stringOrNull(key)
            case "device": doc.device = try parser.stringOrNull(key)
            case "unit": doc.unit = try parser.integerOrNull(key)
            case "blocks": doc.blocks = try blocks(&parser)
            default: try parser.skipValue()
            }
        }
        return doc
    }

    private static func blocks(_ scanner: inout JSONScanner) throws(JSONScanner.Failure) -> [Block] {
        var blocks: [Block] = []
        var declared = 0
        try scanner.array { (parser: inout JSONScanner, index: Int) throws(JSONScanner.Failure) in
            guard index < CaptureLimits.blocks else {
                throw parser.fail("more than \(CaptureLimits.blocks) blocks (the limit of one capture)")
            }
            var block = Block()
            let path = "blocks[\(index)]"
            try parser.object { (parser: inout JSONScanner, key: String) throws(JSONScanner.Failure) in
                switch key {
                case "start": block.start = try parser.integerOrNull("\(path).start")
                case "function": block.function = try parser.integerOrNull("\(path).function")
                case "registers":
                    (block.registers, block.holes) = try registers(&parser, "\(path).registers", budget: CaptureLimits.registers - declared)
                default: try parser.skipValue()
                }
            }
            declared += block.registers?.count ?? 0
            blocks.append(block)
        }
        return blocks
    }

    /// The registers array: a tight loop for the common case (plain decimal integers), falling
    /// back to the general parser for anything else (null, whitespace oddities, errors). Past
    /// `budget` registers (what the capture limit leaves), the element that passes it is refused.
    private static func registers(
        _ s: inout JSONScanner, _ path: String, budget: Int
    ) throws(JSONScanner.Failure) -> ([UInt16], [Int]) {
        var values: [UInt16] = []
        var holes: [Int] = []
        try s.expect(UInt8(ascii: "["), "an array")
        s.skipSpace()
        if s.peek == UInt8(ascii: "]") {
            s.position += 1
            return (values, holes)
        }
        let bytes = s.bytes
        let count = bytes.count
        while true {
            guard values.count < budget else {
                throw s.fail("more than \(CaptureLimits.registers) registers declared (the limit of one capture)")
            }
            // Fast path: digits, then ',' or ']'.
            var j = s.position
            var n = 0
            var digits = 0
            while j < count, bytes[j] &- 48 < 10, digits < 6 {
                n = n &* 10 &+ Int(bytes[j] &- 48)
                j += 1
                digits += 1
            }
            if digits > 0, digits < 6, n <= 65535, j < count, bytes[j] == UInt8(ascii: ",") || bytes[j] == UInt8(ascii: "]"),
                !(digits > 1 && bytes[s.position] == 48)
            {
                values.append(UInt16(truncatingIfNeeded: n))
                s.position = j + 1
                if bytes[j] == UInt8(ascii: "]") { return (values, holes) }
                continue
            }
            // General path for one element.
            let index = values.count
            s.skipSpace()
            if s.peek == UInt8(ascii: "n") {
                try s.literal("null")
                holes.append(index)
                values.append(0)
            } else {
                let valueStart = s.position
                guard let v = try s.integer() else { throw s.fail("\(path)[\(index)]: expected an integer") }
                guard v >= -32768 && v <= 65535 else {
                    throw JSONScanner.Failure(offset: valueStart, message: "\(path)[\(index)]: \(v) is not a 16-bit register value")
                }
                values.append(UInt16(truncatingIfNeeded: v))
            }
            s.skipSpace()
            if s.peek == UInt8(ascii: ",") { s.position += 1; s.skipSpace(); continue }
            if s.peek == UInt8(ascii: "]") { s.position += 1; return (values, holes) }
            throw s.fail("expected ',' or ']'")
        }
    }
}
