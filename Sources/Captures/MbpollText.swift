import SunSpec

/// What `mbpoll -t 4` (decimal) and `-t 4:hex` print: lines `[40001]: \t21365` or `[40001]: \t0x5375`.
/// References are 1-based as mbpoll prints them by default, or 0-based (mbpoll `-0`). Other lines
/// (the banner, "-- Polling slave", errors) are skipped; a later poll of the same register wins.
enum MbpollText {
    static func read(_ bytes: [UInt8], name: String, zeroBased: Bool) throws(CaptureError) -> Capture {
        var image = RegisterImage.Builder()
        var run: [UInt16] = []
        var runStart = -1
        var found = 0
        // Counted before anything is parsed: blank and skipped lines count too.
        let (lines, pastLimit) = CaptureJSON.splitLines(bytes)
        if pastLimit { throw CaptureLimits.tooManyLines(name) }
        for line in lines {
            let text = Substring(decoding: bytes[line.range], as: UTF8.self)
            guard text.first == "[", let close = text.firstIndex(of: "]") else { continue }
            let location = "\(name):\(line.number)"
            let refText = text[text.index(after: text.startIndex)..<close]
            var rest = text[text.index(after: close)...]
            guard rest.first == ":" else { continue }
            rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" }
            guard let ref = Int(refText) else { throw CaptureError(location, "reference '\(refText)' is not a number") }
            let address = zeroBased ? ref : ref - 1
            guard (0...65535).contains(address) else {
                throw CaptureError(location, "reference \(ref) is outside the \(zeroBased ? "0-based" : "1-based") register range")
            }
            let valueText = rest.prefix { !$0.isWhitespace }
            guard let value = CSVCapture.registerValue(valueText) else {
                throw CaptureError(location, "'\(valueText)' is not a 16-bit register value")
            }
            if runStart >= 0 && address == runStart + run.count {
                run.append(value)
            } else {
                if runStart >= 0 { image.insert(.init(start: runStart, registers: run)) }
                runStart = address
                run = [value]
            }
            found += 1
        }
        if runStart >= 0 { image.insert(.init(start: runStart, registers: run)) }
        guard found > 0 else { throw CaptureError(name, "no mbpoll register lines ('[40001]: 21365')") }
        return Capture(device: nil, unit: nil, captured: nil, image: image.image, location: name)
    }
}
