import CoreMetrics
import Modbus
import Synchronization

/// One endpoint's metrics (a TCP connection or a serial line, shared by the units behind it): the
/// link's observer. Each request's busy time goes into the request duration histogram and into the
/// busy total the busy ratio is computed from; each open after the first counts as a reconnect. The
/// link's own counters (mismatched replies, stale bytes, earlier replies) are copied at each scrape.
public final class LinkMetrics: LinkObserver {
    /// The endpoint, as labels name it (`10.0.0.5:502`, `/dev/ttyUSB0`).
    public let endpoint: String
    private let duration: CoreMetrics.Timer
    private let reconnects: Counter
    private let busyRatio: Meter
    private let mismatched: Counter
    private let staleBytes: Counter
    private let earlierReplies: Counter
    private let busyNanoseconds = Atomic<Int64>(0)
    private let reconnectCount = Atomic<Int>(0)
    private let state = Mutex(Sample())

    /// The link's counters as copied at the last scrape, and the busy total at the last ratio.
    private struct Sample {
        var at: Duration?
        var busy: Int64 = 0
        var ratio = 0.0
        var mismatched = 0
        var staleBytes = 0
        var earlierReplies = 0
    }

    init(endpoint: String, factory: any MetricsFactory) {
        self.endpoint = endpoint
        let e = [("endpoint", endpoint)]
        duration = CoreMetrics.Timer(label: MetricName.requestDuration, dimensions: e, factory: factory)
        reconnects = Counter(label: MetricName.reconnects, dimensions: e, factory: factory)
        busyRatio = Meter(label: MetricName.busyRatio, dimensions: e, factory: factory)
        mismatched = Counter(label: MetricName.mismatchedReplies, dimensions: e, factory: factory)
        staleBytes = Counter(label: MetricName.staleBytes, dimensions: e, factory: factory)
        earlierReplies = Counter(label: MetricName.earlierReplies, dimensions: e, factory: factory)
        busyRatio.set(0.0)
    }

    public func linkOpened(first: Bool) {
        guard !first else { return }
        reconnects.increment()
        reconnectCount.add(1, ordering: .relaxed)
    }

    public func requestEnded(busy: Duration, error: ModbusError?) {
        let nanoseconds = busy.components.seconds * 1_000_000_000 + busy.components.attoseconds / 1_000_000_000
        duration.recordNanoseconds(nanoseconds)
        busyNanoseconds.add(nanoseconds, ordering: .relaxed)
    }

    /// Reconnects so far.
    var reconnectTotal: Int { reconnectCount.load(ordering: .relaxed) }

    /// The share of time the link was busy since the last refresh at least `window` ago (the ratio
    /// stays as it was until then, so two scrapes close together do not make it jump).
    @discardableResult
    func refresh(now: Duration, link: ModbusLink?, window: Duration = .seconds(1)) -> Double {
        let busy = busyNanoseconds.load(ordering: .relaxed)
        return state.withLock { s in
            if let link {
                mismatched.increment(by: max(0, link.mismatchedReplies - s.mismatched))
                staleBytes.increment(by: max(0, link.droppedStaleBytes - s.staleBytes))
                earlierReplies.increment(by: max(0, link.droppedEarlierReplies - s.earlierReplies))
                s.mismatched = link.mismatchedReplies
                s.staleBytes = link.droppedStaleBytes
                s.earlierReplies = link.droppedEarlierReplies
            }
            guard let last = s.at else {
                s.at = now
                s.busy = busy
                return s.ratio
            }
            let elapsed = now - last
            guard elapsed >= window else { return s.ratio }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            s.ratio = min(1, Double(busy - s.busy) * 1e-9 / seconds)
            s.at = now
            s.busy = busy
            busyRatio.set(s.ratio)
            return s.ratio
        }
    }

    /// The busy ratio as last computed.
    var ratio: Double { state.withLock { $0.ratio } }
}
