import Captures
import Foundation
import Gateway
import Logging
import Modbus
import Profiles
import ServiceLifecycle
import SunSpec

/// The pieces of `sunspec-gateway demo`: a simulated battery system served over Modbus TCP on a
/// loopback port, polled by the real engine through libmodbus, published on a socket in a temporary
/// folder.
public enum DemoSystem {
    /// The simulated devices: the battery inverter as unit 1, the legacy storage inverter as unit 2,
    /// a Sungrow hybrid (its own register map, input registers) as unit 3; all take writes (functions
    /// 6 and 16) into their holding registers, as a device under control does.
    public static func devices() -> CaptureDevices {
        var images: [UInt8: RegisterImage] = [:]
        var inputs: [UInt8: RegisterImage] = [:]
        for (unit, text) in [(UInt8(1), DemoCaptures.batteryInverter), (2, DemoCaptures.legacyStorage), (3, DemoCaptures.sungrow)] {
            _ = CaptureReader.read(Array(text.utf8), name: "demo") {
                images[unit] = $0.image
                inputs[unit] = $0.inputImage
            }
        }
        return CaptureDevices(images, inputs: inputs, writable: true)
    }

    /// The Sungrow profile the demo embeds (Profiles/sungrow-sh.yaml).
    public static var embeddedProfile: String { DemoCaptures.sungrowProfile }

    /// The configuration the demo polls: the three units behind one TCP endpoint, sharing its
    /// connection. Throws the embedded profile's error if it does not load (a build out of step with
    /// Profiles/sungrow-sh.yaml).
    ///
    /// With `controlFolder`, the control socket and audit are there, and the battery inverter lets
    /// `124.WChaMax` be written (0-50000 W, reverting to 50000).
    public static func config(port: Int, socketPath: String, controlFolder: String? = nil) throws -> GatewayConfig {
        let endpoint = Endpoint.tcp(host: "127.0.0.1", port: port)
        let sungrow = try Profile.parse(DemoCaptures.sungrowProfile, file: "Profiles/sungrow-sh.yaml")
        var config = GatewayConfig(
            socketPath: socketPath,
            devices: [
                DeviceConfig(name: "demo-bess", endpoint: endpoint, unit: 1, interval: .seconds(1), timeout: .milliseconds(500)),
                DeviceConfig(name: "demo-legacy", endpoint: endpoint, unit: 2, interval: .seconds(2), timeout: .milliseconds(500)),
                DeviceConfig(
                    name: "demo-sungrow", endpoint: endpoint, unit: 3, interval: .seconds(2), timeout: .milliseconds(500), profile: sungrow),
            ])
        if let controlFolder {
            config.control = ControlSettings(socketPath: controlFolder + "/control.sock", auditPath: controlFolder + "/audit.jsonl")
            let path = PointPath(model: 124, point: "WChaMax")
            guard let model = ModelCatalog.builtin.definition(for: 124) else { return config }
            let point = try model.point(at: path)
            let allowed = AllowedPoint(
                path: path, definition: point, model: model, min: ExactDecimal(0, exponent: 0), max: ExactDecimal(50000, exponent: 0),
                revert: .number(ExactDecimal(50000, exponent: 0)))
            config.devices[0].control = DeviceControl(allow: [allowed])
        }
        return config
    }
}

/// Moves the simulated devices' values every half second, as a service.
public struct AnimationService: Service {
    let devices: CaptureDevices
    let animations: [UInt8: Animation]

    /// Animates every unit of `devices`.
    public init(devices: CaptureDevices) {
        self.devices = devices
        var animations: [UInt8: Animation] = [:]
        for unit in devices.units {
            if let image = devices.image(unit: unit) { animations[unit] = Animation(image: image) }
        }
        self.animations = animations
    }

    public func run() async throws {
        let start = ContinuousClock.now
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let seconds =
                    Double((ContinuousClock.now - start).components.seconds)
                    + Double((ContinuousClock.now - start).components.attoseconds) / 1e18
                for (unit, animation) in animations {
                    devices.update(unit: unit) { animation.apply(at: seconds, to: &$0) }
                }
                do { try await Task.sleep(for: .milliseconds(500)) } catch { return }  // cancelled: the demo is over
            }
        }
    }
}
