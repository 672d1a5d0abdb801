import ArgumentParser
import Captures
import Foundation
import Profiles
import SunSpec

/// `sunspec-gateway decode FILE...`: decodes captured register maps into reading records (NDJSON).
struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode captured register maps into SunSpec reading records, one JSON object per line.",
        discussion: """
            Formats (detected, or --format): the project's capture JSON (a .jsonl of them decodes line by \
            line), pysunspec2 device JSON, the text of mbpoll -t 4 / -t 4:hex, and CSV address,value.
            A chain that stops early (no end marker, runs off the capture) keeps what was decoded and \
            warns on stderr. Bad input: one line on stderr naming the file and line, exit status 65 \
            (66 for a missing file); every other capture is still decoded.
            """
    )

    @Argument(help: "Capture files.")
    var files: [String]

    @Option(help: "Input format: \(CaptureFormat.allCases.map(\.rawValue).joined(separator: ", ")) (default: detected).")
    var format: CaptureFormat?

    @Flag(name: .customLong("zero-based"), help: "mbpoll references are 0-based (what mbpoll -0 prints).")
    var zeroBased = false

    @Option(help: "Address of the SunS marker (default: 40000, 0, 50000, 40001, 1, 50001, then anywhere).")
    var base: Int?

    @Option(help: "Device name for the records (default: the capture's, else the file name).")
    var device: String?

    @Flag(help: "Before the readings, one meta record per model instance (labels, units, symbols).")
    var meta = false

    @Option(name: .customLong("models"), help: "Folder of SunSpec JSON model files that add to or override the built-in ones.")
    var modelsDirectory: String?

    @Option(help: "A vendor profile: the captures are the vendor's registers, mapped onto SunSpec models.")
    var profile: String?

    func validate() throws {
        if let base, !(0...65533).contains(base) {
            throw ValidationError("--base \(base) is outside 0...65533")
        }
    }

    func run() throws {
        let catalog = try loadCatalog(modelsDirectory)
        var output = StandardOutput()
        var status: ExitCode = .success
        var metaWritten = Set<String>()
        let options = CaptureOptions(format: format, zeroBased: zeroBased, catalog: catalog)
        let mapper = try profile.map { ProfileMapper(profile: try loadProfile($0)) }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                let exists = FileManager.default.fileExists(atPath: file)
                printError("\(file): \(exists ? "cannot read the file" : "no such file")")
                if status == .success || status == ExitStatus.dataError { status = ExitStatus.noInput }
                continue
            }
            let fallbackName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
            let errors = CaptureReader.read([UInt8](data), name: file, options: options) { capture in
                var buffer = JSONBuffer(capacity: 1 << 15)
                let name = device ?? capture.device ?? fallbackName
                do {
                    var source: String?
                    var decoded: DecodedDevice
                    if let mapper {
                        // The capture holds a vendor's registers: decode the SunSpec map the profile makes of them.
                        let mapped = mapper.map(VendorRegisters(holding: capture.image, input: capture.inputImage))
                        decoded = try DeviceDecoder.decode(mapped.image, base: ProfileMapper.base)
                        decoded = decoded.adding(errors: mapped.errors)
                        source = "profile:\(mapper.profile.name)"
                    } else {
                        decoded = try DeviceDecoder.decode(capture.sunspecImage, base: base ?? capture.base, catalog: catalog)
                    }
                    if meta {
                        for instance in decoded.models where metaWritten.insert("\(name)/\(instance.address)/\(instance.model.id)").inserted
                        {
                            MetaRecord.append(instance, device: name, to: &buffer)
                        }
                    }
                    for instance in decoded.models {
                        ReadingRecord.append(instance, device: name, timestamp: capture.captured, source: source, to: &buffer)
                    }
                    if let chainError = decoded.chainError {
                        printError("\(capture.location): warning: \(chainError)")
                    }
                } catch {
                    printError("\(capture.location): \(error)")
                    if status == .success { status = ExitStatus.dataError }
                }
                buffer.withBytes { output.write($0) }
            }
            for error in errors {
                printError(error.description)
                if status == .success { status = ExitStatus.dataError }
            }
        }
        output.flush()
        if output.failed { throw ExitStatus.ioError }
        if status != .success { throw status }
    }
}

extension CaptureFormat: ExpressibleByArgument {}

/// The built-in catalog, or one with the models of `directory` added; a bad model file exits 65.
func loadCatalog(_ directory: String?) throws -> ModelCatalog {
    guard let directory else { return .builtin }
    do {
        return try ModelFiles.catalog(directory: directory)
    } catch {
        printError(error.description)
        throw ExitStatus.dataError
    }
}
