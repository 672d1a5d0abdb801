/// A model instance found on a device's SunSpec chain, decoded.
public struct ModelInstance: Sendable {
    /// 0-based protocol address of the model's ID register.
    public let address: Int
    /// Counts instances of the same model id on the device, from 0.
    public let index: Int
    /// The decoded model.
    public let model: DecodedModel

    /// Creates an instance.
    public init(address: Int, index: Int, model: DecodedModel) {
        self.address = address
        self.index = index
        self.model = model
    }
}

/// What a walk of a SunSpec chain found.
public struct DecodedDevice: Sendable {
    /// Address of the `SunS` marker.
    public let base: Int
    /// The models in chain order.
    public let models: [ModelInstance]
    /// Why the walk stopped early, if it did (what was decoded before is kept).
    public let chainError: String?

    /// The same device with more messages on some models, by the address of their ID register.
    public func adding(errors: [Int: [String]]) -> DecodedDevice {
        guard !errors.isEmpty else { return self }
        let models = models.map { m in
            ModelInstance(address: m.address, index: m.index, model: m.model.adding(errors: errors[m.address] ?? []))
        }
        return DecodedDevice(base: base, models: models, chainError: chainError)
    }
}

/// Why no SunSpec map could be found at all.
public struct ChainError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public let message: String
    public var description: String { message }
}

/// Walks the SunSpec chain of a register image and decodes every model on it.
public enum DeviceDecoder {
    /// The `SunS` marker registers.
    public static let marker: (UInt16, UInt16) = (0x5375, 0x6E53)
    /// Bases tried, in order, when none is given.
    public static let defaultBases = [40000, 0, 50000, 40001, 1, 50001]

    /// Finds the `SunS` marker: at `base` when given, else at the usual bases, else anywhere in the image.
    public static func findBase(in image: RegisterImage, base: Int? = nil) throws(ChainError) -> Int {
        if let base {
            guard hasMarker(image, at: base) else {
                throw ChainError(message: "no SunS marker at \(base)")
            }
            return base
        }
        for candidate in defaultBases where hasMarker(image, at: candidate) {
            return candidate
        }
        for block in image.blocks {
            for address in block.start..<block.end where hasMarker(image, at: address) {
                return address
            }
        }
        throw ChainError(message: "no SunS marker at 40000, 0, 50000, 40001, 1, 50001 or elsewhere in the \(image.registerCount) registers")
    }

    static func hasMarker(_ image: RegisterImage, at address: Int) -> Bool {
        image.value(at: address) == marker.0 && image.value(at: address + 1) == marker.1
    }

    /// Decodes every model on the chain starting at `base` (found as `findBase` does when nil).
    public static func decode(
        _ image: RegisterImage, base: Int? = nil, catalog: ModelCatalog = .builtin
    ) throws(ChainError) -> DecodedDevice {
        let base = try findBase(in: image, base: base)
        var models: [ModelInstance] = []
        models.reserveCapacity(16)
        var counts: [(id: Int, count: Int)] = []
        var address = base + 2
        var chainError: String?
        while true {
            guard address + 1 <= 65535 else {
                chainError = "the chain overruns register 65535 at \(address) without an end marker"
                break
            }
            guard let id = image.value(at: address), let length = image.value(at: address + 1) else {
                chainError = "the chain runs off the captured registers at \(address) without an end marker"
                break
            }
            if id == 0xFFFF { break }
            let end = address + 2 + Int(length)
            let window = image.window(start: address, count: min(Int(length) + 2, 65536 - address))
            let model: DecodedModel
            if let definition = catalog.definition(for: Int(id)) {
                model = ModelDecoder.decode(definition, window: window, length: Int(length))
            } else {
                model = ModelDecoder.undefined(id: Int(id), window: window, length: Int(length))
            }
            let index: Int
            if let k = counts.firstIndex(where: { $0.id == Int(id) }) {
                index = counts[k].count
                counts[k].count += 1
            } else {
                index = 0
                counts.append((Int(id), 1))
            }
            models.append(ModelInstance(address: address, index: index, model: model))
            if end > 65536 {
                chainError = "model \(id) at \(address) with L=\(length) overruns register 65535"
                break
            }
            address = end
        }
        return DecodedDevice(base: base, models: models, chainError: chainError)
    }
}
