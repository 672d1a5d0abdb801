import Foundation
import SunSpec

/// The project's own capture format, one JSON document, or one per line (`.jsonl`).
///
/// `{"format":"sunspec-gateway/registers","version":1,"captured":..,"device":..,"unit":1,
///   "blocks":[{"start":40000,"function":3,"registers":[...]}]}` with 0-based protocol addresses;
/// a register written as null was not captured.
public enum CaptureJSON {
    /// The format tag.
    public static let formatName = "sunspec-gateway/registers"

    /// Reads one capture, or one per non-empty line when the input holds several lines of JSON.
    static func read(_ bytes: [UInt8], name: String, _ body: (Capture) -> Void) -> [CaptureError] {
        let lines = splitLines(bytes)
        let nonEmpty = lines.filter { !$0.range.isEmpty }
        // One document (possibly pretty-printed over several lines) or JSON Lines.
        if nonEmpty.count > 1, isJSONLines(bytes, nonEmpty) {
            var errors: [CaptureError] = []
            for line in nonEmpty {
                do {
                    body(try parse(Data(bytes[line.range]), location: "\(name):\(line.number)"))
                } catch {
                    errors.append(error)
                }
            }
            return errors
        }
        do {
            body(try parse(Data(bytes), location: name))
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
        for (i, block) in capture.image.blocks.enumerated() {
            if i > 0 { out.byte(UInt8(ascii: ",")) }
            out.raw("{\"start\":")
            out.int(Int64(block.start))
            out.raw(",\"function\":")
            out.int(Int64(function))
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

    private struct Document: Decodable {
        let format: String
        let version: Int
        let captured: String?
        let device: String?
        let unit: Int?
        let blocks: [Block]
    }

    private struct Block: Decodable {
        let start: Int
        let function: Int?
        let registers: [Int?]
    }

    static func parse(_ data: Data, location: String) throws(CaptureError) -> Capture {
        let doc: Document
        do {
            doc = try JSONDecoder().decode(Document.self, from: data)
        } catch let error as DecodingError {
            throw CaptureError(location, JSONErrorText.describe(error, in: data))
        } catch {
            throw CaptureError(location, "not JSON: \(error)")
        }
        guard doc.format == formatName else {
            throw CaptureError(location, "format is '\(doc.format)', expected '\(formatName)'")
        }
        guard doc.version == 1 else {
            throw CaptureError(location, "capture version \(doc.version) is not supported (expected 1)")
        }
        var image = RegisterImage()
        for (b, block) in doc.blocks.enumerated() {
            guard (0...65535).contains(block.start), block.start + block.registers.count <= 65536 else {
                throw CaptureError(location, "blocks[\(b)]: start \(block.start) with \(block.registers.count) registers is outside 0...65535")
            }
            if let f = block.function, f != 3 && f != 4 {
                throw CaptureError(location, "blocks[\(b)]: function \(f) is not 3 (holding) or 4 (input)")
            }
            var run: [UInt16] = []
            var runStart = block.start
            run.reserveCapacity(block.registers.count)
            for (i, r) in block.registers.enumerated() {
                guard let r else {
                    image.insert(RegisterImage.Block(start: runStart, registers: run))
                    run = []
                    runStart = block.start + i + 1
                    continue
                }
                guard (-32768...65535).contains(r) else {
                    throw CaptureError(location, "blocks[\(b)].registers[\(i)]: \(r) is not a 16-bit register value")
                }
                run.append(UInt16(truncatingIfNeeded: r))
            }
            image.insert(RegisterImage.Block(start: runStart, registers: run))
        }
        return Capture(device: doc.device, unit: doc.unit, captured: doc.captured, image: image, location: location)
    }

    struct Line {
        let number: Int
        let range: Range<Int>
    }

    static func splitLines(_ bytes: [UInt8]) -> [Line] {
        var lines: [Line] = []
        var start = 0
        var number = 1
        for (i, b) in bytes.enumerated() where b == 0x0A {
            lines.append(Line(number: number, range: trim(bytes, start..<i)))
            start = i + 1
            number += 1
        }
        if start < bytes.count { lines.append(Line(number: number, range: trim(bytes, start..<bytes.count))) }
        return lines
    }

    private static func trim(_ bytes: [UInt8], _ r: Range<Int>) -> Range<Int> {
        var lo = r.lowerBound, hi = r.upperBound
        while lo < hi, [0x20, 0x09, 0x0D].contains(bytes[lo]) { lo += 1 }
        while hi > lo, [0x20, 0x09, 0x0D].contains(bytes[hi - 1]) { hi -= 1 }
        return lo..<hi
    }

    /// JSON Lines when every non-empty line starts with `{` and ends with `}` and the first is a whole document.
    private static func isJSONLines(_ bytes: [UInt8], _ lines: [Line]) -> Bool {
        guard let first = lines.first, bytes[first.range.lowerBound] == UInt8(ascii: "{"),
            bytes[first.range.upperBound - 1] == UInt8(ascii: "}")
        else { return false }
        return (try? JSONSerialization.jsonObject(with: Data(bytes[first.range]))) != nil
    }
}
