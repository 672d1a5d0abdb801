import CoreMetrics
import Foundation
import Modbus
import Synchronization

/// Why a device's map is found again.
public enum RediscoveryReason: String, Sendable, CaseIterable {
    /// A poll found the map is not the one discovered.
    case changed
    /// A command asked for it (the inbox).
    case requested
    /// The device failed: discovered again after the backoff.
    case failed
}

/// The result label of one Modbus request.
enum RequestResult: String, CaseIterable {
    case ok, timeout, exception, io
    case badReply = "bad_reply"

    /// Its place in `allCases`.
    var index: Int {
        switch self {
        case .ok: 0
        case .timeout: 1
        case .exception: 2
        case .io: 3
        case .badReply: 4
        }
    }

    /// The label of a request's error (nil: it never went on the wire, or it was cancelled).
    init?(_ error: ModbusError?) {
        guard let error else {
            self = .ok
            return
        }
        switch error.kind {
        case .timeout: self = .timeout
        case .exception: self = .exception
        case .badResponse: self = .badReply
        case .connectionLost, .system: self = .io
        case .invalidRequest, .cancelled: return nil
        }
    }
}

/// One device's metrics, made once when the gateway is built: its handles (requests by function and
/// result, exceptions by code, poll durations, overruns, rediscoveries, up, state, reading age, last
/// success) and what `/status` says of it. Every call is a few atomic updates or one short lock.
/// Exceptions by code are made at the first of each code, the reading age and last success at the
/// first readings: until then they are absent, not 0.
public final class DeviceMetrics: Sendable {
    /// The device's name.
    public let device: String
    private let factory: any MetricsFactory
    /// Requests by register kind (holding, input) and result, at `slot(kind, result)`; nil for a
    /// kind the device never reads.
    private let requests: [Counter?]
    private let exceptions: Mutex<[UInt8: Counter]>
    private let pollDuration: CoreMetrics.Timer
    private let overruns: Counter
    private let rediscoveries: [RediscoveryReason: Counter]
    private let up: Meter
    private let states: [DeviceState: Meter]
    /// The reading age and last success gauges, made at the first readings (absent before).
    private let successGauges = Mutex<(age: Meter, last: Meter)?>(nil)
    private let health = Mutex(DeviceHealth())
    private let requestsInPoll = Atomic<Int>(0)

    /// The metrics of `device`, whose requests are of `kinds` (a SunSpec device's one register kind;
    /// both for a profile's).
    init(device: String, kinds: [RegisterKind] = [.holding, .input], factory: any MetricsFactory) {
        self.device = device
        self.factory = factory
        let d = [("device", device)]
        var requests: [Counter?] = Array(repeating: nil, count: 2 * RequestResult.allCases.count)
        for kind in kinds {
            let function = kind == .holding ? "read_holding_registers" : "read_input_registers"
            for result in RequestResult.allCases {
                requests[Self.slot(kind, result)] = Counter(
                    label: MetricName.requests, dimensions: d + [("function", function), ("result", result.rawValue)], factory: factory)
            }
        }
        self.requests = requests
        exceptions = Mutex([:])
        pollDuration = CoreMetrics.Timer(label: MetricName.pollDuration, dimensions: d, factory: factory)
        overruns = Counter(label: MetricName.overruns, dimensions: d, factory: factory)
        rediscoveries = Dictionary(
            uniqueKeysWithValues: RediscoveryReason.allCases.map {
                ($0, Counter(label: MetricName.rediscoveries, dimensions: d + [("reason", $0.rawValue)], factory: factory))
            })
        up = Meter(label: MetricName.up, dimensions: d, factory: factory)
        states = Dictionary(
            uniqueKeysWithValues: [DeviceState.discovering, .online, .offline].map {
                ($0, Meter(label: MetricName.state, dimensions: d + [("state", $0.rawValue)], factory: factory))
            })
        up.set(0)
        for meter in states.values { meter.set(0) }
    }

    // MARK: - From the reader and the runner

    /// One request of the device ended (sent and answered, or failed).
    func requestEnded(kind: RegisterKind, error: ModbusError?) {
        guard let result = RequestResult(error) else { return }
        requests[Self.slot(kind, result)]?.increment()
        requestsInPoll.add(1, ordering: .relaxed)
        if let error, case .exception(let code) = error.kind { exceptionCounter(code).increment() }
    }

    private static func slot(_ kind: RegisterKind, _ result: RequestResult) -> Int {
        (kind == .holding ? 0 : 5) + result.index  // 5 results per kind
    }

    /// A poll begins (the requests counted from now on are its).
    func pollStarted() { requestsInPoll.store(0, ordering: .relaxed) }

    /// A poll ended after `duration`.
    func pollEnded(duration: Duration) {
        let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        pollDuration.recordNanoseconds(nanoseconds)
        let requests = requestsInPoll.load(ordering: .relaxed)
        health.withLock { $0.recordPoll(duration, requests: requests) }
    }

    /// A poll took longer than the interval: ticks were skipped.
    func overrun() { overruns.increment() }

    /// The map is found again, for `reason`.
    func rediscovery(_ reason: RediscoveryReason) { rediscoveries[reason]?.increment() }

    // MARK: - From the sink

    /// The device's state changed.
    func statusChanged(_ status: DeviceStatus, at time: Date) {
        up.set(status.state == .online ? 1 : 0)
        for (state, meter) in states { meter.set(state == status.state ? 1 : 0) }
        health.withLock { h in
            h.state = status.state
            h.since = time
            if let error = status.error { h.lastError = error }
            if status.state == .online { h.models = status.models }
        }
    }

    /// Readings arrived at `time` (a discovery's or a poll's).
    func readingsArrived(at time: Date) {
        let gauges = successGauges.withLock { gauges in
            if let gauges { return gauges }
            let d = [("device", device)]
            let made = (
                age: Meter(label: MetricName.readingAge, dimensions: d, factory: factory),
                last: Meter(label: MetricName.lastSuccess, dimensions: d, factory: factory)
            )
            gauges = made
            return made
        }
        gauges.last.set(time.timeIntervalSince1970)
        gauges.age.set(0.0)
        health.withLock { $0.lastSuccess = time }
    }

    /// Sets the reading age as of `now` (at each scrape).
    func refresh(now: Date) {
        guard let last = health.withLock({ $0.lastSuccess }), let age = successGauges.withLock({ $0?.age }) else { return }
        age.set(max(0, now.timeIntervalSince(last)))
    }

    /// What `/status` says of the device now.
    func snapshot() -> DeviceHealth { health.withLock { $0 } }

    private func exceptionCounter(_ code: UInt8) -> Counter {
        exceptions.withLock { counters in
            if let counter = counters[code] { return counter }
            let counter = Counter(
                label: MetricName.exceptions, dimensions: [("device", device), ("code", String(code))], factory: factory)
            counters[code] = counter
            return counter
        }
    }
}

/// What is known of a device's health, for `/status`: its state and since when, its last success
/// and last error, its models, and its recent polls (the last 256: durations and requests).
struct DeviceHealth: Sendable {
    var state: DeviceState?
    var since: Date?
    var lastSuccess: Date?
    var lastError: String?
    var models: [Int] = []
    /// The last polls' durations, oldest overwritten first.
    private(set) var pollDurations: [Duration] = []
    private var nextSlot = 0
    /// Requests of the last poll.
    private(set) var requestsPerPoll: Int?

    static let kept = 256

    mutating func recordPoll(_ duration: Duration, requests: Int) {
        if pollDurations.count < Self.kept {
            pollDurations.append(duration)
        } else {
            pollDurations[nextSlot] = duration
        }
        nextSlot = (nextSlot + 1) % Self.kept
        requestsPerPoll = requests
    }

    /// The `q` quantile (0...1) of the kept poll durations, nearest rank; nil before the first poll.
    func pollQuantile(_ q: Double) -> Duration? {
        guard !pollDurations.isEmpty else { return nil }
        let sorted = pollDurations.sorted()
        let rank = Int((q * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
