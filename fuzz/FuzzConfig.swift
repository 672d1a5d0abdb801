// libFuzzer entry point over the YAML a user writes: the gateway configuration, vendor profiles, and
// the vendor value conversion of a profile that loads (registers from the input). Built by
// fuzz/run.sh with -sanitize=fuzzer,address; not part of the package build.
import Foundation
import GatewayConfigFuzz
import Profiles
import SunSpec

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let selector = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    // The text up to the first 0xFF is the YAML; what follows are register values.
    let cut = bytes.firstIndex(of: 0xFF) ?? bytes.count
    let text = String(decoding: bytes[..<cut], as: UTF8.self)
    let tail = bytes[min(cut + 1, bytes.count)...]
    if selector % 2 == 0 {
        do {
            _ = try GatewayConfig.parse(text, file: "fuzz.yaml")
        } catch {
            precondition(!error.description.contains("\n"), "a config error of more than one line: \(error.description)")
        }
        return 0
    }
    let profile: Profile
    do {
        profile = try Profile.parse(text, file: "fuzz.yaml")
    } catch {
        precondition(!error.description.contains("\n"), "a profile error of more than one line: \(error.description)")
        return 0
    }
    // Every register the profile reads takes values from the input (or 0xFFFF), holding and input.
    var values = tail.makeIterator()
    var registers = VendorRegisters()
    for block in profile.readPlan(maxRegisters: 125) {
        var regs: [UInt16] = []
        for _ in 0..<block.count {
            let hi = values.next() ?? 0xFF
            let lo = values.next() ?? 0xFF
            regs.append(UInt16(hi) << 8 | UInt16(lo))
        }
        let b = RegisterImage.Block(start: block.start, registers: regs)
        if block.function == .holding { registers.holding.insert(b) } else { registers.input.insert(b) }
    }
    let mapped = ProfileMapper(profile: profile).map(registers)
    if let device = try? DeviceDecoder.decode(mapped.image, base: ProfileMapper.base) {
        var out = JSONBuffer()
        for instance in device.models { ReadingRecord.append(instance, device: "f", timestamp: nil, to: &out) }
    }
    return 0
}
