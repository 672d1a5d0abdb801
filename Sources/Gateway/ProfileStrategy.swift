import Logging
import Modbus
import Profiles
import SunSpec

/// A device read through a vendor profile: the profile's registers are read, mapped onto a SunSpec
/// map, and that map's readings are published (marked `"source":"profile:NAME"`) like a SunSpec
/// device's. Its first good read is its discovery. A device that refuses the bridged reads (over
/// registers between the ones the profile uses) is read register run by register run instead.
struct ProfileStrategy: PollStrategy {
    let config: DeviceConfig
    let profile: Profile
    let reader: any RegisterReader
    let clocks: Clocks
    let logger: Logger
    let mapper: ProfileMapper
    let source: String
    var plan: [ReadBlock]
    var bridging = true
    /// The SunSpec map of the latest good read (the `before` of control writes).
    var lastRegisters: DeviceRegisters?

    init(config: DeviceConfig, profile: Profile, reader: any RegisterReader, clocks: Clocks, logger: Logger) {
        self.config = config
        self.profile = profile
        self.reader = reader
        self.clocks = clocks
        self.logger = logger
        mapper = ProfileMapper(profile: profile)
        source = "profile:\(profile.name)"
        plan = profile.readPlan(maxRegisters: config.maxRegisters)
    }

    mutating func discover() async -> DiscoveryOutcome {
        switch await readAndMap() {
        case .stopped: return .stopped
        case .failed(let error): return .failed(error)
        case .mapped(let device, let registers):
            lastRegisters = registers
            return .found(readings: readings(of: device, first: true), registers: registers, models: device.models.map(\.model.id))
        }
    }

    mutating func poll() async -> PollOutcome {
        switch await readAndMap() {
        case .stopped: return .stopped
        case .failed(let error): return .failed(error)
        case .mapped(let device, let registers):
            lastRegisters = registers
            return .polled(readings(of: device, first: false), registers)
        }
    }

    private enum Mapped {
        case mapped(DecodedDevice, DeviceRegisters)
        case failed(String)
        case stopped
    }

    /// Reads the profile's registers and maps them onto the SunSpec map.
    private mutating func readAndMap() async -> Mapped {
        while true {
            var registers = VendorRegisters()
            var failure: ModbusError?
            for block in plan {
                do {
                    let values = try await reader.readRetrying(
                        unit: config.unit, address: block.start, count: block.count, kind: block.function,
                        timeout: config.timeout, busyRetries: Session.busyRetries, clocks: clocks)
                    let b = RegisterImage.Block(start: block.start, registers: values)
                    if block.function == .holding { registers.holding.insert(b) } else { registers.input.insert(b) }
                } catch {
                    failure = error
                    break
                }
            }
            if Task.isCancelled { return .stopped }
            if let error = failure, bridging, error.isException(2) || error.isException(3) {
                // The device refuses reads over registers it does not have: read only what sources use.
                logger.notice("device refuses bridged reads: reading only the registers the profile uses", metadata: ["error": "\(error)"])
                plan = profile.readPlan(maxRegisters: config.maxRegisters, maxGap: 0)
                bridging = false
                continue
            }
            if let failure { return .failed("\(failure)") }
            let mapped = mapper.map(registers)
            let image = DeviceRegisters(image: mapped.image, models: nil)
            do {
                let device = try DeviceDecoder.decode(mapped.image, base: ProfileMapper.base).adding(errors: mapped.errors)
                return .mapped(device, image)
            } catch {
                // The profile is checked when loaded, so this is a defect of ours: said, not hidden.
                logger.error("the mapped SunSpec map does not decode", metadata: ["error": "\(error)"])
                return .failed("the mapped SunSpec map does not decode: \(error)")
            }
        }
    }

    /// The readings of a mapped map: every model the first time, then all but the common model.
    private func readings(of device: DecodedDevice, first: Bool) -> [Reading] {
        let ts = clocks.wall()
        return device.models.filter { first || $0.model.id != 1 }.map {
            Reading(device: config.name, instance: $0, timestamp: ts, source: source)
        }
    }
}
