import SunSpec

/// What one capture may declare. Past a limit the capture is refused with one line (exit 65); the
/// other captures on the command line, and the other lines of a `.jsonl`, are still read.
public enum CaptureLimits {
    /// Blocks of one JSON capture (one document, or one line of a `.jsonl`): 1,048,576.
    public static let blocks = 1 << 20
    /// Registers one JSON capture declares, summed over its blocks (overlaps counted): 4,194,304,
    /// 64 times the holding and input address spaces together.
    public static let registers = 1 << 22
    /// Lines of one CSV, mbpoll or `.jsonl` file: 4,194,304.
    public static let lines = 1 << 22
    /// Nesting of objects and arrays in any JSON read (captures, pysunspec2 devices, model files).
    public static var depth: Int { JSONScanner.maxDepth }

    /// The error of a line-based input with more than `lines` lines, at the first line past it.
    static func tooManyLines(_ name: String) -> CaptureError {
        CaptureError("\(name):\(lines + 1)", "more than \(lines) lines (the limit of one file)")
    }
}
