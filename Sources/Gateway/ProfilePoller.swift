import Captures
import Foundation
import Logging
import Modbus
import Profiles
import SunSpec

/// Polls a device through a vendor profile: reads the profile's registers, maps them onto a SunSpec
/// map, and publishes that map's readings (marked `"source":"profile:NAME"`) like a SunSpec device's.
public struct ProfilePoller: Sendable {
    let config: DeviceConfig
    let profile: Profile
    let reader: any RegisterReader
    let hub: Hub
    let export: ExportStore?
    let logger: Logger

    /// Creates a poller.
    public init(config: DeviceConfig, profile: Profile, reader: any RegisterReader, hub: Hub, export: ExportStore?, logger: Logger) {
        self.config = config
        self.profile = profile
        self.reader = reader
        self.hub = hub
        self.export = export
        var logger = logger
        logger[metadataKey: "device"] = "\(config.name)"
        self.logger = logger
    }

    /// Polls until the task is cancelled.
    public func run() async {
        var plan = profile.readPlan(maxRegisters: config.maxRegisters)
        var bridging = true
        let mapper = ProfileMapper(profile: profile)
        let source = "profile:\(profile.name)"
        var backoff = Backoff()
        var published = false
        var next = ContinuousClock.now
        while !Task.isCancelled {
            var registers = VendorRegisters()
            var failure: ModbusError?
            for block in plan {
                do {
                    let values = try await reader.readRetrying(
                        unit: config.unit, address: block.start, count: block.count, kind: block.function == .holding ? .holding : .input,
                        timeout: config.timeout, busyRetries: Session.busyRetries)
                    let b = RegisterImage.Block(start: block.start, registers: values)
                    if block.function == .holding { registers.holding.insert(b) } else { registers.input.insert(b) }
                } catch {
                    failure = error
                    break
                }
            }
            if Task.isCancelled { return }
            if let error = failure, bridging, error.isException(2) || error.isException(3) {
                // The device refuses reads over registers it does not have: read only what sources use.
                logger.notice("device refuses bridged reads: reading only the registers the profile uses", metadata: ["error": "\(error)"])
                plan = profile.readPlan(maxRegisters: config.maxRegisters, maxGap: 0)
                bridging = false
                continue
            }
            if let failure {
                published = false
                setStatus(.offline, error: "\(failure)")
                if let unit = config.exportUnit { export?.setOffline(unit: unit) }
                logger.warning("device offline", metadata: ["error": "\(failure)"])
                do { try await Task.sleep(for: backoff.next()) } catch { return }
                next = .now
                continue
            }
            backoff.reset()
            let ts = Timestamp.format(Date())
            let mapped = mapper.map(registers)
            if let unit = config.exportUnit { export?.update(unit: unit, image: mapped.image) }
            let decoded: DecodedDevice?
            do {
                decoded = try DeviceDecoder.decode(mapped.image, base: ProfileMapper.base).adding(errors: mapped.errors)
            } catch {
                logger.error("the mapped SunSpec map does not decode", metadata: ["error": "\(error)"])
                decoded = nil
            }
            if let device = decoded {
                if !published {
                    hub.reset(device: config.name)
                    setStatus(.discovering)
                }
                var records: [(address: Int, bytes: [UInt8])] = []
                var buffer = JSONBuffer(capacity: 1 << 14)
                for instance in device.models where !published || instance.model.id != 1 {
                    buffer.removeAll()
                    ReadingRecord.append(instance, device: config.name, timestamp: ts, source: source, to: &buffer)
                    if published {
                        records.append((instance.address, buffer.bytes))
                    } else {
                        hub.publish(device: config.name, instance: instance, reading: buffer.bytes)
                    }
                }
                hub.publish(device: config.name, readings: records)
                if !published {
                    setStatus(.online, models: device.models.map(\.model.id))
                    published = true
                }
            }
            next += config.interval
            if next < .now { next = .now }
            do { try await Task.sleep(until: next) } catch { return }
        }
    }

    func setStatus(_ state: DeviceState, error: String? = nil, models: [Int] = []) {
        hub.publish(
            status: DeviceStatus(device: config.name, state: state, error: error, models: models, timestamp: Timestamp.format(Date())))
    }
}
