import Captures
import Foundation
import Logging
import SunSpec

/// How a device is read: a SunSpec device's discovery and polls, or a vendor profile's.
protocol PollStrategy: Sendable {
    /// Finds the device's map.
    mutating func discover() async -> DiscoveryOutcome
    /// Reads the map found once more.
    mutating func poll() async -> PollOutcome
    /// Carries out a control action on the map found (between two polls), one outcome per point;
    /// `intent` records the writes in the audit immediately before they go out.
    mutating func control(_ action: ControlAction, intent: ControlIntent?) async -> [ControlOutcome]
}

/// What finding a device's map came to.
enum DiscoveryOutcome {
    /// The map: its first readings (every model instance, with its meta), its registers, its model ids.
    case found(readings: [Reading], registers: DeviceRegisters, models: [Int])
    /// No map now (the error is the status's); tried again after the backoff.
    case failed(String)
    /// A map that is not believed yet (`why` is logged); tried again after the backoff.
    case again(String)
    /// The task was cancelled.
    case stopped
}

/// What one poll came to.
enum PollOutcome {
    /// The readings of the polled models, and the registers as they are now.
    case polled([Reading], DeviceRegisters)
    /// The map is not the one found (`why`): discover it again at once.
    case changed(String)
    /// The device failed: offline, and discovered again after the backoff.
    case failed(String)
    /// The task was cancelled.
    case stopped
}

/// Runs one device for as long as its task runs: finds its map, polls it every interval, and reports
/// all of it to the sink as events. It alone decides when to read: the interval (missed ticks are
/// skipped, not caught up), the backoff after a failure (1 s doubling to 60 s), a new discovery when
/// the map changed, and the commands of its inbox, served between polls. A device that fails never
/// holds up another one.
struct DeviceRunner: Sendable {
    let name: String
    let interval: Duration
    let strategy: any PollStrategy
    let sink: any GatewaySink
    let inbox: DeviceInbox
    let clocks: Clocks
    let logger: Logger
    /// Hears of each poll, overrun and rediscovery (nil: no metrics kept).
    var metrics: DeviceMetrics? = nil

    func run() async {
        defer { refuseControls(error: "the gateway is stopping") }
        var strategy = strategy
        var backoff = Backoff()
        while !Task.isCancelled {
            setStatus(.discovering)
            switch await strategy.discover() {
            case .stopped:
                return
            case .failed(let error):
                setStatus(.offline, error: error)
                logger.warning("discovery failed", metadata: ["error": "\(error)", "retry": "\(DurationText.format(backoff.current))"])
                guard await pause(backoff.next()) else { return }
                continue
            case .again(let why):
                logger.notice("\(why): discovering again")
                guard await pause(backoff.next()) else { return }
                continue
            case .found(let readings, let registers, let models):
                backoff.reset()
                // Registers first: whoever sees a reading finds the export with the same poll's.
                sink.receive(.registers(device: name, registers))
                sink.receive(.discovered(device: name, readings: readings))
                setStatus(.online, models: models)
            }
            // Discovery has just published every model: the first poll comes one interval later.
            var next = clocks.now() + interval
            polling: while true {
                let onTime: Bool
                switch await waitForTick(next) {
                case .stopped:
                    return
                case .command(.rediscover(let reason)):
                    logger.notice("discovering again", metadata: ["why": "\(reason)"])
                    metrics?.rediscovery(.requested)
                    break polling
                case .command(.pollNow):
                    onTime = false  // an extra poll: the schedule stays as it was
                case .command(.control(let job)):
                    // Between two polls, never inside one; the schedule stays as it was.
                    job.finish(await strategy.control(job.action, intent: job.intent))
                    continue polling
                case .tick:
                    onTime = true
                }
                let pollStart = clocks.now()
                metrics?.pollStarted()
                let outcome = await strategy.poll()
                metrics?.pollEnded(duration: clocks.now() - pollStart)
                switch outcome {
                case .stopped:
                    return
                case .polled(let readings, let registers):
                    sink.receive(.registers(device: name, registers))
                    if !readings.isEmpty { sink.receive(.readings(device: name, readings)) }
                case .changed(let why):
                    logger.notice("model map changed: discovering again", metadata: ["why": "\(why)"])
                    metrics?.rediscovery(.changed)
                    break polling
                case .failed(let error):
                    setStatus(.offline, error: error)
                    logger.warning("device offline", metadata: ["error": "\(error)", "retry": "\(DurationText.format(backoff.current))"])
                    guard await pause(backoff.next()) else { return }
                    metrics?.rediscovery(.failed)
                    break polling
                }
                guard onTime else { continue }
                next += interval
                let now = clocks.now()
                if next < now {
                    next = now  // behind: skip the missed ticks
                    metrics?.overrun()
                }
            }
        }
    }

    private enum Wake {
        case tick
        case command(DeviceCommand)
        case stopped
    }

    /// Waits for the deadline, or for a command to come first.
    private func waitForTick(_ deadline: Duration) async -> Wake {
        if Task.isCancelled { return .stopped }
        if let command = inbox.take() { return .command(command) }
        let clocks = clocks
        let inbox = inbox
        return await withTaskGroup(of: Wake.self) { group in
            group.addTask {
                do {
                    try await clocks.sleepUntil(deadline)
                    return .tick
                } catch {
                    return .stopped  // cancelled
                }
            }
            group.addTask { await inbox.next().map(Wake.command) ?? .stopped }
            let first = await group.next() ?? .stopped
            group.cancelAll()
            // A command that came as the deadline passed is served next time, not lost.
            while let other = await group.next() {
                if case .command(let command) = other { inbox.putBack(command) }
            }
            return Task.isCancelled ? .stopped : first
        }
    }

    /// Waits out a backoff; false when the task was cancelled meanwhile.
    private func pause(_ duration: Duration) async -> Bool {
        do {
            try await clocks.sleep(for: duration)
            return true
        } catch {
            return false
        }
    }

    private func setStatus(_ state: DeviceState, error: String? = nil, models: [Int] = []) {
        if state == .online {
            inbox.openControls()
        } else {
            refuseControls(error: error.map { "the device is \(state.rawValue): \($0)" } ?? "the device is \(state.rawValue)")
        }
        sink.receive(
            .status(DeviceStatus(device: name, state: state, error: error, models: models, timestamp: Timestamp.format(clocks.wall()))))
    }
}

extension DeviceRunner {
    /// Stops taking control jobs; the ones queued are answered `offline`.
    func refuseControls(error: String) {
        for job in inbox.closeControls() { job.finish(all: ControlOutcome(.offline, error: error)) }
    }
}

/// Exponential backoff: 1 s, 2 s, 4 s ... capped at 60 s.
struct Backoff {
    private(set) var current: Duration = .seconds(1)

    mutating func next() -> Duration {
        defer { current = min(current * 2, .seconds(60)) }
        return current
    }

    mutating func reset() { current = .seconds(1) }
}
