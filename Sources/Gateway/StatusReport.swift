import Captures
import Foundation
import SunSpec

/// `/status`: per device its state and since when, its last success and last error, the models found,
/// its poll duration p50/p99 (over its last 256 polls) and the requests of its last poll; per link
/// its busy ratio and reconnects. Times are RFC 3339 UTC, durations seconds.
struct StatusReport: Encodable {
    struct Device: Encodable {
        var name: String
        var state: String?
        var since: String?
        var lastSuccess: String?
        var lastError: String?
        var models: [Int]
        var pollP50: Double?
        var pollP99: Double?
        var requestsPerPoll: Int?

        enum CodingKeys: String, CodingKey {
            case name, state, since, models
            case lastSuccess = "last_success"
            case lastError = "last_error"
            case pollP50 = "poll_p50_seconds"
            case pollP99 = "poll_p99_seconds"
            case requestsPerPoll = "requests_per_poll"
        }
    }

    struct Link: Encodable {
        var endpoint: String
        var busyRatio: Double
        var reconnects: Int

        enum CodingKeys: String, CodingKey {
            case endpoint, reconnects
            case busyRatio = "busy_ratio"
        }
    }

    var devices: [Device]
    var links: [Link]

    init(devices: [(String, DeviceHealth)], links: [(String, Double, Int)]) {
        self.devices = devices.map { name, h in
            Device(
                name: name, state: h.state?.rawValue, since: h.since.map { Timestamp.format($0) },
                lastSuccess: h.lastSuccess.map { Timestamp.format($0) }, lastError: h.lastError, models: h.models,
                pollP50: h.pollQuantile(0.5).map(Self.seconds), pollP99: h.pollQuantile(0.99).map(Self.seconds),
                requestsPerPoll: h.requestsPerPoll)
        }
        self.links = links.map { Link(endpoint: $0.0, busyRatio: $0.1, reconnects: $0.2) }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// The report as JSON (keys sorted; what is not known yet is left out).
    func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return Array(try encoder.encode(self)) + [UInt8(ascii: "\n")]
        } catch {
            // Strings, numbers and arrays of them always encode; say so rather than serve nothing.
            return Array("{\"error\":\"status could not be encoded: \(error)\"}\n".utf8)
        }
    }
}
