import SunSpec

/// One captured register map of one device.
public struct Capture: Sendable {
    /// The device's name, if the capture gives one.
    public var device: String?
    /// Modbus unit id, if known.
    public var unit: Int?
    /// When the registers were read (RFC 3339), if known.
    public var captured: String?
    /// Where the SunSpec chain starts, when the format fixes it (pysunspec2 device files: 40000).
    public var base: Int?
    /// The holding registers (function 3; blocks that name no function).
    public var image: RegisterImage
    /// The input registers (function 4).
    public var inputImage: RegisterImage
    /// Where in the input this capture came from (`file` or `file:line`).
    public var location: String

    /// Creates a capture.
    public init(
        device: String?, unit: Int?, captured: String?, base: Int? = nil, image: RegisterImage, inputImage: RegisterImage = RegisterImage(),
        location: String
    ) {
        self.inputImage = inputImage
        self.device = device
        self.unit = unit
        self.captured = captured
        self.base = base
        self.image = image
        self.location = location
    }
}

extension Capture {
    /// The registers a SunSpec map is looked for in: the holding registers, or the input registers
    /// when only those were captured.
    public var sunspecImage: RegisterImage { image.registerCount == 0 ? inputImage : image }
}

/// Input that is not a readable capture, with the file and line or offset.
public struct CaptureError: Error, Sendable, CustomStringConvertible {
    /// `file`, `file:line` or `file: offset N`.
    public let location: String
    /// What is wrong.
    public let message: String

    /// Creates an error.
    public init(_ location: String, _ message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }
}

/// The capture formats `decode` reads.
public enum CaptureFormat: String, Sendable, CaseIterable {
    /// The project's own JSON capture (`sunspec-gateway/registers`), or a `.jsonl` of them.
    case capture
    /// pysunspec2's `Device.get_dict()` JSON (raw values).
    case pysunspec2
    /// What `mbpoll -t 4` or `-t 4:hex` prints.
    case mbpoll
    /// `address,value` lines.
    case csv

    /// Guesses the format from the first bytes of the input.
    public static func detect(_ bytes: [UInt8]) -> CaptureFormat {
        var i = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        if i < bytes.count, bytes[i] == UInt8(ascii: "{") {
            let head = String(decoding: bytes.prefix(4096), as: UTF8.self)
            if head.contains("sunspec-gateway/registers") { return .capture }
            if head.contains("\"models\"") { return .pysunspec2 }
            return .capture
        }
        let head = String(decoding: bytes.prefix(65536), as: UTF8.self)
        for line in head.split(whereSeparator: \.isNewline) {
            let t = line.drop { $0 == " " || $0 == "\t" }
            if t.first == "[", t.contains("]:") { return .mbpoll }
        }
        return .csv
    }
}

/// How to read a capture.
public struct CaptureOptions: Sendable {
    /// Force a format instead of detecting it.
    public var format: CaptureFormat?
    /// mbpoll references are 0-based (mbpoll `-0`), not the default 1-based.
    public var zeroBased: Bool
    /// The catalog used to rebuild registers from pysunspec2 device files.
    public var catalog: ModelCatalog

    /// Creates options.
    public init(format: CaptureFormat? = nil, zeroBased: Bool = false, catalog: ModelCatalog = .builtin) {
        self.format = format
        self.zeroBased = zeroBased
        self.catalog = catalog
    }
}
