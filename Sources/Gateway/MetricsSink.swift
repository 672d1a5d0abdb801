import CoreMetrics
import Foundation

/// The metrics' sink: each device's state (`device_up`, `device_state`, since when, its models, its
/// last error) from its status events, and its last success (and so its reading age) from its
/// readings. It keeps no point values.
public struct MetricsSink: GatewaySink {
    let devices: [String: DeviceMetrics]
    let wall: @Sendable () -> Date
    let factory: any MetricsFactory

    /// A sink for the metrics' devices; times come from `wall`.
    init(metrics: GatewayMetrics, wall: @escaping @Sendable () -> Date) {
        devices = metrics.devices
        self.wall = wall
        factory = metrics.factory
    }

    public func receive(_ event: GatewayEvent) {
        switch event {
        case .status(let status):
            devices[status.device]?.statusChanged(status, at: wall())
        case .discovered(let device, _), .readings(let device, _):
            devices[device]?.readingsArrived(at: wall())
        case .control(let record):
            // Rare (a person or a SCADA asked): the counter is found by its labels here.
            let dimensions = [("device", record.device ?? ""), ("point", record.point ?? ""), ("result", record.outcome.result.rawValue)]
            CoreMetrics.Counter(label: MetricName.controlRequests, dimensions: dimensions, factory: factory).increment()
        case .registers:
            break
        }
    }
}
