// libFuzzer entry point over every reader of untrusted bytes: the capture readers (each format),
// the SunSpec chain walk and model decoder, the record writers, and model definition files.
// Built by fuzz/run.sh with -sanitize=fuzzer,address; not part of the package build.
import Captures
import SunSpec

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let selector = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch selector % 6 {
    case 0, 1, 2, 3:
        // A capture in each format (0: capture JSON, 1: pysunspec2, 2: mbpoll, 3: CSV), or detected.
        let format: CaptureFormat? = selector < 128 ? CaptureFormat.allCases[Int(selector % 4)] : nil
        _ = CaptureReader.read(bytes, name: "fuzz", options: CaptureOptions(format: format, zeroBased: selector & 64 != 0)) { capture in
            render(capture.image)
        }
    case 4:
        // Raw registers behind a SunS marker: the chain walk and every model decoder.
        var registers: [UInt16] = [0x5375, 0x6E53]
        var i = 0
        while i + 1 < bytes.count {
            registers.append(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]))
            i += 2
        }
        render(RegisterImage(blocks: [.init(start: 40000, registers: registers)]))
    default:
        // A model definition file (--models).
        if let model = try? ModelDefinition(json: bytes) {
            var registers: [UInt16] = [UInt16(model.id), 40]
            registers += bytes.prefix(80).map { UInt16($0) * 257 }
            let decoded = ModelDecoder.decode(model, window: RegisterWindow(registers), length: 40)
            var out = JSONBuffer()
            ReadingRecord.append(ModelInstance(address: 0, index: 0, model: decoded), device: "f", timestamp: nil, to: &out)
            MetaRecord.append(ModelInstance(address: 0, index: 0, model: decoded), device: "f", to: &out)
        }
    }
    return 0
}

private func render(_ image: RegisterImage) {
    guard let device = try? DeviceDecoder.decode(image) else { return }
    var out = JSONBuffer()
    for instance in device.models {
        ReadingRecord.append(instance, device: "f", timestamp: nil, to: &out)
        MetaRecord.append(instance, device: "f", to: &out)
    }
}
