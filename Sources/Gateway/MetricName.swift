/// The metrics' names (prefix `sunspec_gateway_`) and their help texts.
///
/// swift-metrics has no help text, so the exposition gets its `# HELP` lines here: one before each
/// metric's `# TYPE` line (`promtool check metrics` wants them).
enum MetricName {
    static let prefix = "sunspec_gateway_"
    static let up = prefix + "device_up"
    static let state = prefix + "device_state"
    static let readingAge = prefix + "reading_age_seconds"
    static let lastSuccess = prefix + "last_success_timestamp_seconds"
    static let requests = prefix + "modbus_requests_total"
    static let exceptions = prefix + "modbus_exceptions_total"
    static let requestDuration = prefix + "modbus_request_duration_seconds"
    static let pollDuration = prefix + "poll_duration_seconds"
    static let overruns = prefix + "poll_overruns_total"
    static let reconnects = prefix + "reconnects_total"
    static let rediscoveries = prefix + "rediscoveries_total"
    static let busyRatio = prefix + "bus_busy_ratio"
    static let mismatchedReplies = prefix + "modbus_mismatched_replies_total"
    static let staleBytes = prefix + "modbus_dropped_stale_bytes_total"
    static let earlierReplies = prefix + "modbus_dropped_earlier_replies_total"
    static let subscribers = prefix + "stream_subscribers"
    static let disconnects = prefix + "stream_disconnects_total"
    static let exportRequests = prefix + "export_requests_total"
    static let exportConnections = prefix + "export_connections"
    static let buildInfo = prefix + "build_info"
    static let controlRequests = prefix + "control_requests_total"
    static let mqttConnected = prefix + "mqtt_connected"
    static let mqttPublished = prefix + "mqtt_published_total"
    static let mqttBuffered = prefix + "mqtt_buffered_messages"
    static let mqttDropped = prefix + "mqtt_dropped_total"

    static let help: [String: String] = [
        up: "1 when the device is online (its map found, its last poll answered), else 0.",
        state: "1 for the device's current state (discovering, online, offline), 0 for the others.",
        readingAge: "Seconds since the device's last readings (absent before the first).",
        lastSuccess: "Unix time of the device's last readings (absent before the first).",
        requests: "Modbus requests of a device by function and result (ok, timeout, exception, io, bad_reply).",
        exceptions: "Modbus exception replies of a device by exception code.",
        requestDuration: "Time a link spent on one request (connect, line silence, send, reply), per endpoint.",
        pollDuration: "Time one poll of a device took.",
        overruns: "Polls that took longer than the device's interval (ticks skipped).",
        reconnects: "Connections (or serial lines) reopened after the first, per endpoint.",
        rediscoveries: "Times a device's map was found again, by reason (changed, requested, failed).",
        busyRatio: "Share of wall time the endpoint's link spent in requests (near 1: saturated).",
        mismatchedReplies: "Replies that were not the answer to their request, per endpoint.",
        staleBytes: "Bytes found waiting before a request, or answering an earlier one, dropped, per endpoint.",
        earlierReplies: "Replies to earlier requests received while waiting for an answer, dropped, per endpoint.",
        subscribers: "Stream subscribers connected now.",
        disconnects: "Stream subscribers' connections ended, by reason (closed, slow, refused, shutdown).",
        exportRequests: "SunSpec export reads by unit, function and result (ok, exception).",
        exportConnections: "SunSpec export connections open now.",
        buildInfo: "Always 1; the gateway's version as a label.",
        mqttConnected: "1 when every MQTT client (JSON topics, Sparkplug B) is connected to the broker, else 0.",
        mqttPublished: "MQTT messages handed to the client library for the broker.",
        mqttBuffered: "MQTT messages kept now, waiting for the broker.",
        mqttDropped: "MQTT messages dropped because the buffer was full (the oldest first).",
        controlRequests: "Control requests (socket and export, and the gateway's own reverts), by device, point and result.",
    ]

    /// The exposition with a `# HELP` line before each `# TYPE` line of a metric that has one.
    static func withHelp(_ exposition: [UInt8]) -> [UInt8] {
        let type = Array("# TYPE ".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(exposition.count + 4096)
        var lineStart = 0
        while lineStart < exposition.count {
            let lineEnd = exposition[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? exposition.count
            let line = exposition[lineStart..<lineEnd]
            if line.starts(with: type) {
                let name = line.dropFirst(type.count).prefix { $0 != UInt8(ascii: " ") }
                if let text = help[String(decoding: name, as: UTF8.self)] {
                    out += Array("# HELP ".utf8)
                    out += name
                    out.append(UInt8(ascii: " "))
                    out += Array(text.utf8)
                    out.append(UInt8(ascii: "\n"))
                }
            }
            out += line
            out.append(UInt8(ascii: "\n"))
            lineStart = lineEnd + 1
        }
        return out
    }
}
