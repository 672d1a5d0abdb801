import ArgumentParser
import Foundation
import Gateway
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization

/// `sunspec-gateway run --config FILE`: polls the configured devices and streams their readings.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Poll the configured devices and publish their readings as NDJSON on a Unix socket.",
        discussion: """
            SIGINT and SIGTERM stop it cleanly: requests in flight finish or time out, subscribers get \
            their last lines, the socket is removed. Exit status 78 for a bad configuration (the error \
            names file, line and key), 69 when the socket cannot be served (another gateway is running).
            """
    )

    @Option(help: "The configuration file (YAML).")
    var config: String

    @Flag(help: "Also write the stream to standard output.")
    var mirror = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func run() async throws {
        let settings: GatewayConfig
        do {
            settings = try GatewayConfig.load(path: config)
        } catch {
            printError(error.description)
            throw ExitCode(78)
        }
        let logger = makeLogger(level: logLevel)
        try await serve(settings, logger: logger, mirror: mirror, extra: [], duration: nil)
    }
}

/// The logger every service gets (stderr).
func makeLogger(level: String) -> Logger {
    var logger = Logger(label: "sunspec-gateway") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}

/// Runs the gateway of `settings` (and `extra` services) until a signal, or `duration`. With
/// `metrics:`, its registry is made here and swift-metrics bootstrapped over it; under systemd
/// (`NOTIFY_SOCKET`) it says READY=1 once everything listens and feeds the watchdog.
func serve(
    _ settings: GatewayConfig, logger: Logger, mirror: Bool, extra: [any Service], duration: Duration?,
    onStreamReady: (@Sendable () -> Void)? = nil
) async throws {
    let mirrorCopy = mirror ? SocketMirror(path: settings.socketPath) : nil
    let registry = settings.metrics.map { _ in PrometheusCollectorRegistry() }
    let systemd = SystemdNotifier()
    let app = GatewayApplication(
        config: settings, logger: logger,
        onStreamReady: {
            mirrorCopy?.start()
            onStreamReady?()
        }, registry: registry,
        onReady: {
            if let error = systemd.notify("READY=1") { logger.warning("systemd notification", metadata: ["error": "\(error)"]) }
        })
    if let factory = app.metrics?.factory { MetricsSystem.bootstrap(factory) }
    var services = extra + [app]
    if systemd.watchdogInterval != nil { services.append(WatchdogService(notifier: systemd, logger: logger)) }
    let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    let timer = duration.map { d in
        Task {
            try await Task.sleep(for: d)
            await group.triggerGracefulShutdown()
        }
    }
    do {
        try await group.run()
    } catch let error as StreamServer.SocketError {
        timer?.cancel()
        printError(error.description)
        throw ExitCode(69)
    }
    timer?.cancel()
    mirrorCopy?.wait()
}

/// Copies what the gateway's own socket serves to standard output, as any subscriber would see it.
final class SocketMirror: Sendable {
    let path: String
    private let done = DispatchSemaphore(value: 0)
    /// Set by `start` (the stream's ready callback) and read by `wait` (after the group ran), on other tasks.
    private let started = Atomic<Bool>(false)

    init(path: String) { self.path = path }

    /// Connects on a thread of its own and copies until the stream ends (once; later calls do nothing).
    func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            defer { done.signal() }
            guard let fd = UnixSocket.connect(path) else { return }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { return }
                buffer.withUnsafeBytes { raw in
                    var offset = 0
                    while offset < n {
                        let w = write(1, raw.baseAddress! + offset, n - offset)
                        if w <= 0 { return }
                        offset += w
                    }
                }
            }
        }
        thread.start()
    }

    /// Waits (at most 2 s) until the stream ended and everything was copied.
    func wait() {
        guard started.load(ordering: .acquiring) else { return }
        _ = done.wait(timeout: .now() + 2)
    }
}
