import Foundation
import Gateway
import Modbus
import Prometheus

/// `sunspec-bench metrics [--devices N] [--rounds R]`: what one `/metrics` exposition of a fleet
/// costs the gateway: the metrics of N TCP devices (one endpoint each) with every series touched,
/// rendered R times; CPU per exposition and its size.
enum MetricsBench {
    static func run(arguments: [String]) {
        let options = Options(arguments)
        let devices = options.int("--devices", 1000)
        let rounds = options.int("--rounds", 20)
        let config = GatewayConfig(
            devices: (0..<devices).map { DeviceConfig(name: "bess-\($0)", endpoint: .tcp(host: "127.0.0.1", port: 30000 + $0)) })
        let metrics = GatewayMetrics(config: config, registry: PrometheusCollectorRegistry())
        for link in metrics.links.values { link.requestEnded(busy: .milliseconds(3), error: nil) }
        var size = 0
        let before = cpuSeconds()
        for _ in 0..<rounds { size = metrics.exposition().count }
        let perExposition = (cpuSeconds() - before) / Double(rounds)
        print(
            #"{"peer":"sunspec-gateway","bench":"metrics","devices":\#(devices),"exposition_bytes":\#(size),"cpu_ms_per_exposition":\#(String(format: "%.1f", perExposition * 1000))}"#
        )
    }
}
