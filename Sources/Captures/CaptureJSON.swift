import SunSpec

/// The project's own capture format, one JSON document, or one per line (`.jsonl`).
///
/// `{"format":"sunspec-gateway/registers","version":1,"captured":..,"device":..,"unit":1,
///   "blocks":[{"start":40000,"function":3,"registers":[...]}]}` with 0-based protocol addresses;
/// a register written as null was not captured.
public enum CaptureJSON {
    /// The format tag.
    public static let formatName = "sunspec-gateway/registers"

    /// The non-empty lines of a JSON Lines input (a recorded poll history), or nil when the input
    /// is a single document (possibly pretty-printed over several lines). Past
    /// `CaptureLimits.lines`, the lines before the limit.
    public static func jsonLines(_ bytes: [UInt8], name: String) -> [Line]? {
        jsonLinesWithinLimit(bytes, name: name)?.lines
    }

    /// The non-empty lines of a JSON Lines input up to the line limit, and whether the input goes past it.
    static func jsonLinesWithinLimit(_ bytes: [UInt8], name: String) -> (lines: [Line], pastLimit: Bool)? {
        let (lines, pastLimit) = splitLines(bytes)
        let nonEmpty = lines.filter { !$0.range.isEmpty }
        return (nonEmpty.count > 1 || pastLimit) && isJSONLines(bytes, nonEmpty, name: name) ? (nonEmpty, pastLimit) : nil
    }

    /// Parses one line of a JSON Lines input.
    public static func parse(_ bytes: [UInt8], line: Line, name: String) -> Result<Capture, CaptureError> {
        do {
            return .success(try parse(bytes[line.range], location: "\(name):\(line.number)"))
        } catch {
            return .failure(error)
        }
    }

    /// Reads one capture, or one per non-empty line when the input holds several lines of JSON.
    static func read(_ bytes: [UInt8], name: String, _ body: (Capture) -> Void) -> [CaptureError] {
        if let (lines, pastLimit) = jsonLinesWithinLimit(bytes, name: name) {
            var errors: [CaptureError] = []
            for line in lines {
                switch parse(bytes, line: line, name: name) {
                case .success(let capture): body(capture)
                case .failure(let error): errors.append(error)
                }
            }
            if pastLimit { errors.append(CaptureLimits.tooManyLines(name)) }
            return errors
        }
        do {
            body(try parse(bytes[...], location: name))
            return []
        } catch {
            return [error]
        }
    }

    /// Encodes a capture in this format, as one line (no newline).
    public static func encode(_ capture: Capture, function: Int = 3) -> String {
        var out = JSONBuffer()
        out.raw("{\"format\":\"sunspec-gateway/registers\",\"version\":1,\"captured\":")
        if let c = capture.captured { out.string(c) } else { out.raw("null") }
        out.raw(",\"device\":")
        if let d = capture.device { out.string(d) } else { out.raw("null") }
        out.raw(",\"unit\":")
        if let u = capture.unit { out.int(Int64(u)) } else { out.raw("null") }
        out.raw(",\"blocks\":[")
        let blocks = capture.image.blocks.map { ($0, function) } + capture.inputImage.blocks.map { ($0, 4) }
        for (i, (block, code)) in blocks.enumerated() {
            if i > 0 { out.byte(UInt8(ascii: ",")) }
            out.raw("{\"start\":")
            out.int(Int64(block.start))
            out.raw(",\"function\":")
            out.int(Int64(code))
            out.raw(",\"registers\":[")
            for (k, r) in block.registers.enumerated() {
                if k > 0 { out.byte(UInt8(ascii: ",")) }
                out.uint(UInt64(r))
            }
            out.raw("]}")
        }
        out.raw("]}")
        return String(decoding: out.bytes, as: UTF8.self)
    }

    // MARK: - Parsing

    static func parse(_ bytes: ArraySlice<UInt8>, location: String) throws(CaptureError) -> Capture {
        let doc: CaptureDocumentParser.Document
        do {
            doc = try CaptureDocumentParser.parse(bytes)
        } catch {
            throw CaptureError(location, "offset \(error.offset): \(error.message)")
        }
        guard let format = doc.format else { throw CaptureError(location, "missing key 'format'") }
        guard let version = doc.version else { throw CaptureError(location, "missing key 'version'") }
        guard let blocks = doc.blocks else { throw CaptureError(location, "missing key 'blocks'") }
        guard format == formatName else {
            throw CaptureError(location, "format is '\(format)', expected '\(formatName)'")
        }
        guard version == 1 else {
            throw CaptureError(location, "capture version \(version) is not supported (expected 1)")
        }
        var holding = RegisterImage.Builder()
        var input = RegisterImage.Builder()
        for (b, block) in blocks.enumerated() {
            guard let start = block.start else { throw CaptureError(location, "blocks[\(b)]: missing key 'start'") }
            guard let registers = block.registers else { throw CaptureError(location, "blocks[\(b)]: missing key 'registers'") }
            guard (0...65535).contains(start), start + registers.count <= 65536 else {
                throw CaptureError(location, "blocks[\(b)]: start \(start) with \(registers.count) registers is outside 0...65535")
            }
            if let f = block.function, f != 3 && f != 4 {
                throw CaptureError(location, "blocks[\(b)]: function \(f) is not 3 (holding) or 4 (input)")
            }
            if block.holes.isEmpty {
                if block.function == 4 {
                    input.insert(RegisterImage.Block(start: start, registers: registers))
                } else {
                    holding.insert(RegisterImage.Block(start: start, registers: registers))
                }
                continue
            }
            var from = 0
            for hole in block.holes + [registers.count] {
                if hole > from {
                    let part = RegisterImage.Block(start: start + from, registers: Array(registers[from..<hole]))
                    if block.function == 4 { input.insert(part) } else { holding.insert(part) }
                }
                from = hole + 1
            }
        }
        var captured: String?
        if let text = doc.captured {
            guard let normal = Timestamp.normalized(text) else {
                throw CaptureError(location, "captured: '\(text)' is not an RFC 3339 date-time")
            }
            captured = normal
        }
        return Capture(
            device: doc.device, unit: doc.unit, captured: captured, image: holding.image, inputImage: input.image, location: location)
    }

    /// A line of the input: its 1-based number and its bytes (trimmed).
    public struct Line: Sendable {
        /// 1-based line number.
        public let number: Int
        /// Byte range, without the line end and surrounding blanks.
        public let range: Range<Int>
    }

    /// The lines of the input, at most `limit` of them (blank ones too); `pastLimit` when it has more.
    static func splitLines(_ bytes: [UInt8], limit: Int = CaptureLimits.lines) -> (lines: [Line], pastLimit: Bool) {
        var lines: [Line] = []
        var start = 0
        var number = 1
        for (i, b) in bytes.enumerated() where b == 0x0A {
            guard number <= limit else { return (lines, true) }
            lines.append(Line(number: number, range: trim(bytes, start..<i)))
            start = i + 1
            number += 1
        }
        if start < bytes.count {
            guard number <= limit else { return (lines, true) }
            lines.append(Line(number: number, range: trim(bytes, start..<bytes.count)))
        }
        return (lines, false)
    }

    private static func trim(_ bytes: [UInt8], _ r: Range<Int>) -> Range<Int> {
        var lo = r.lowerBound, hi = r.upperBound
        while lo < hi, isBlank(bytes[lo]) { lo += 1 }
        while hi > lo, isBlank(bytes[hi - 1]) { hi -= 1 }
        return lo..<hi
    }

    /// A space, tab or carriage return (compared, not looked up in an array: this runs for every line).
    @inline(__always)
    private static func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D }

    /// JSON Lines when the file is named so, or its first line is a whole capture on its own.
    private static func isJSONLines(_ bytes: [UInt8], _ lines: [Line], name: String) -> Bool {
        if name.hasSuffix(".jsonl") || name.hasSuffix(".ndjson") { return true }
        guard let first = lines.first else { return false }
        return (try? CaptureDocumentParser.parse(bytes[first.range])) != nil
    }
}
