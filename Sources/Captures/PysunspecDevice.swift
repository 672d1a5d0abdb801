import Foundation
import SunSpec

/// pysunspec2's device JSON (`Device.get_dict()`, raw values): `{"name":..,"models":[{"ID":1,"L":66,...}]}`.
/// The registers are rebuilt from the values with the model definitions, as a chain at 40000.
///
/// An entry `{"ID": 65535, "L": 0}` (pysunspec2's own test devices end with one) is the end marker:
/// the chain ends there, and an entry after it is an error, as a model after a device's end marker
/// would never be read.
enum PysunspecDevice {
    static let base = 40000

    static func read(_ bytes: [UInt8], name: String, catalog: ModelCatalog) throws(CaptureError) -> Capture {
        // Checked with the gateway's own reader first: syntax errors get a byte offset like the other
        // formats, and nesting past JSONScanner.maxDepth is refused before anything recurses over it.
        do {
            try JSONScanner.scan(bytes[...]) { (s: inout JSONScanner) throws(JSONScanner.Failure) in try s.skipValue() }
        } catch {
            throw CaptureError(name, "offset \(error.offset): \(error.message)")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            throw CaptureError(name, "invalid JSON: \((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)")")
        }
        guard let top = object as? [String: Any], let models = top["models"] as? [Any] else {
            throw CaptureError(name, "not a pysunspec2 device: expected an object with a 'models' array")
        }
        var image = RegisterImage()
        var registers: [UInt16] = [DeviceDecoder.marker.0, DeviceDecoder.marker.1]
        var runStart = base
        var endMarker: Int?
        for (i, item) in models.enumerated() {
            let here = "models[\(i)]"
            if let endMarker {
                throw CaptureError(name, "\(here): comes after the end marker (models[\(endMarker)]), where the chain ends")
            }
            guard let dict = item as? [String: Any] else { throw CaptureError(name, "\(here): expected an object") }
            guard let id = (dict["ID"] as? NSNumber)?.intValue, (1...65535).contains(id) else {
                throw CaptureError(name, "\(here): missing or invalid 'ID'")
            }
            let length = (dict["L"] as? NSNumber)?.intValue
            if id == 0xFFFF {
                guard length == nil || length == 0 else {
                    throw CaptureError(name, "\(here): the end marker (ID 65535) has 'L' \(length!), not 0")
                }
                endMarker = i
                continue
            }
            if let length, !(0...65535).contains(length) {
                throw CaptureError(name, "\(here): 'L' \(length) is outside 0...65535")
            }
            if let definition = catalog.definition(for: id) {
                do {
                    registers += try ModelEncoder.encode(definition, values: rawObject(dict), length: length)
                } catch {
                    throw CaptureError(name, "\(here): \(error.message)")
                }
            } else {
                // No definition to rebuild the body from: keep the header, leave the body uncaptured.
                guard let length else { throw CaptureError(name, "\(here): model \(id) has no definition and no 'L'") }
                registers += [UInt16(id), UInt16(length)]
                image.insert(.init(start: runStart, registers: registers))
                runStart += registers.count + length
                registers = []
            }
            guard runStart + registers.count < 65535 else { throw CaptureError(name, "\(here): the models overrun register 65535") }
        }
        registers += [0xFFFF, 0]
        image.insert(.init(start: runStart, registers: registers))
        return Capture(device: top["name"] as? String, unit: nil, captured: nil, base: base, image: image, location: name)
    }

    static func rawObject(_ dict: [String: Any]) -> [String: RawValue] {
        var out: [String: RawValue] = [:]
        for (k, v) in dict { out[k] = raw(v) }
        return out
    }

    static func raw(_ v: Any) -> RawValue {
        switch v {
        case let n as NSNumber:
            if let i = n as? Int64 { return .int(i) }
            // 2^63 and more: a uint64 or acc64 read exactly, not rounded through Double.
            if let u = n as? UInt64 { return .uint(u) }
            return .double(n.doubleValue)
        case let s as String: return .string(s)
        case let a as [Any]: return .array(a.map(raw))
        case let d as [String: Any]: return .object(rawObject(d))
        default: return .null
        }
    }
}
