import Foundation

/// `sunspec-bench core CAPTURE [SECONDS]`: the core decode benchmark.
/// `sunspec-bench stream ...` and `sunspec-bench fleet ...`: the live gateway benchmarks.
@main
enum Bench {
    static func main() async throws {
        let args = Array(CommandLine.arguments.dropFirst())
        switch args.first {
        case "core" where args.count >= 2:
            try CoreBench.run(capture: args[1], seconds: args.count > 2 ? Double(args[2]) ?? 2 : 2)
        case "stream" where args.count >= 2:
            try await StreamBench.run(capture: args[1], arguments: Array(args.dropFirst(2)))
        case "fleet" where args.count >= 2:
            try await FleetBench.run(arguments: Array(args.dropFirst(1)))
        case "metrics":
            MetricsBench.run(arguments: Array(args.dropFirst(1)))
        default:
            FileHandle.standardError.write(
                Data(
                    """
                    usage: sunspec-bench core CAPTURE [SECONDS]
                           sunspec-bench stream CAPTURE [--devices N] [--subscribers N] [--interval MS] [--seconds S]
                           sunspec-bench fleet --first-port P [--devices N] [--interval MS] [--seconds S] [--scrape-ms MS]
                           sunspec-bench metrics [--devices N] [--rounds R]

                    """.utf8))
            exit(64)
        }
    }
}
