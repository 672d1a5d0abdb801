import Modbus
import SunSpec
import Synchronization

/// Devices served from captured register images, one per unit id: what `simulate` and `demo` serve.
/// A register that was not captured answers exception 2 (as devices do past their map); a unit
/// with no image answers 0x0B (gateway target failed to respond).
///
/// Made `writable`, the devices take writes (functions 6 and 16) into their holding images: a write
/// that touches a register the image does not have is refused whole with exception 2. Otherwise
/// every write answers exception 1, as a read-only device does.
public final class CaptureDevices: WritableRegisterSource, Sendable {
    /// Whether writes land in the images (else exception 1).
    public let writable: Bool
    private let images: Mutex<[UInt8: RegisterImage]>
    private let inputs: Mutex<[UInt8: RegisterImage]>

    /// Serves these images (holding registers, and input registers where given) by unit id; with
    /// `writable`, writes change the holding images.
    public init(_ images: [UInt8: RegisterImage], inputs: [UInt8: RegisterImage] = [:], writable: Bool = false) {
        self.writable = writable
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

    /// Writes `registers` of `unit` from `address` into its holding image, all or nothing.
    public func write(unit: UInt8, address: Int, registers: [UInt16]) -> ServerWriteReply {
        guard writable else { return .exception(1) }
        return images.withLock { all in
            guard var image = all[unit] else { return .exception(0x0B) }
            guard image.window(start: address, count: registers.count).missing == nil else { return .exception(2) }
            all[unit] = nil  // keep the image uniquely referenced while it changes
            image.insert(RegisterImage.Block(start: address, registers: registers))
            all[unit] = image
            return .written
        }
    }
}
