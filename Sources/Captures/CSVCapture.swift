import SunSpec

/// `address,value` lines: 0-based protocol addresses, values decimal (negative allowed, as int16)
/// or `0x` hex. A first line that is not numeric is a header; `#` starts a comment.
enum CSVCapture {
    static func read(_ bytes: [UInt8], name: String) throws(CaptureError) -> Capture {
        var image = RegisterImage.Builder()
        var run: [UInt16] = []
        var runStart = -1
        var seenData = false
        // Counted before anything is parsed: blank and skipped lines count too.
        let (lines, pastLimit) = CaptureJSON.splitLines(bytes)
        if pastLimit { throw CaptureLimits.tooManyLines(name) }
        for line in lines {
            var text = Substring(decoding: bytes[line.range], as: UTF8.self)
            if let hash = text.firstIndex(of: "#") { text = text[..<hash] }
            if text.allSatisfy(\.isWhitespace) { continue }
            let location = "\(name):\(line.number)"
            let fields = text.split(separator: text.contains(",") ? "," : ";", omittingEmptySubsequences: false)
                .map { $0.trimmingWhitespace() }
            guard fields.count >= 2 else {
                throw CaptureError(location, "expected 'address,value'")
            }
            guard let address = integer(fields[0]) else {
                if !seenData && integer(fields[1]) == nil { seenData = true; continue }  // header
                throw CaptureError(location, "address '\(fields[0])' is not a number")
            }
            seenData = true
            guard (0...65535).contains(address) else { throw CaptureError(location, "address \(address) is outside 0...65535") }
            guard let value = registerValue(fields[1]) else {
                throw CaptureError(location, "'\(fields[1])' is not a 16-bit register value")
            }
            if runStart >= 0 && address == runStart + run.count {
                run.append(value)
            } else {
                if runStart >= 0 { image.insert(.init(start: runStart, registers: run)) }
                runStart = address
                run = [value]
            }
        }
        if runStart >= 0 { image.insert(.init(start: runStart, registers: run)) }
        guard runStart >= 0 else { throw CaptureError(name, "no 'address,value' lines") }
        return Capture(device: nil, unit: nil, captured: nil, image: image.image, location: name)
    }

    static func integer(_ s: Substring) -> Int? {
        if s.hasPrefix("0x") || s.hasPrefix("0X") { return Int(s.dropFirst(2), radix: 16) }
        return Int(s)
    }

    /// A register value: 0...65535, -32768...-1 (two's complement), or 0x0000...0xFFFF.
    static func registerValue(_ s: Substring) -> UInt16? {
        guard let v = integer(s), (-32768...65535).contains(v) else { return nil }
        return UInt16(truncatingIfNeeded: v)
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? start
        return self[start..<Swift.max(start, end)]
    }
}
