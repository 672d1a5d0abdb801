import Modbus
import SunSpec
import Synchronization

/// Devices served from captured register images, one per unit id: what `simulate` and `demo` serve.
/// A register that was not captured answers exception 2 (as devices do past their map); a unit
/// with no image answers 0x0B (gateway target failed to respond).
public final class CaptureDevices: RegisterSource, Sendable {
    private let images: Mutex<[UInt8: RegisterImage]>
    private let inputs: Mutex<[UInt8: RegisterImage]>

    /// Serves these images (holding registers, and input registers where given) by unit id.
    public init(_ images: [UInt8: RegisterImage], inputs: [UInt8: RegisterImage] = [:]) {
        self.images = Mutex(images)
        self.inputs = Mutex(inputs)
    }

    /// The units served.
    public var units: [UInt8] { images.withLock { $0.keys.sorted() } }

    /// Replaces a unit's registers (the animation, or a test changing the device under the gateway).
    public func update(unit: UInt8, _ body: (inout RegisterImage) -> Void) {
        images.withLock { all in
            guard var image = all[unit] else { return }
            all[unit] = nil  // keep the image uniquely referenced while it changes
            body(&image)
            all[unit] = image
        }
    }

    /// The current registers of a unit.
    public func image(unit: UInt8) -> RegisterImage? { images.withLock { $0[unit] } }

    public func read(unit: UInt8, kind: RegisterKind, address: Int, count: Int) -> ServerReply {
        if kind == .input, let input = inputs.withLock({ $0[unit] }), input.registerCount > 0 {
            let window = input.window(start: address, count: count)
            return window.missing != nil ? .exception(2) : .registers(Array(window.values))
        }
        return images.withLock { all in
            guard let image = all[unit] else { return .exception(0x0B) }
            let window = image.window(start: address, count: count)
            if window.missing != nil { return .exception(2) }
            return .registers(Array(window.values))
        }
    }
}
