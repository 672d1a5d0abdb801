import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// `/metrics` (the Prometheus text exposition) and `/status` (JSON) over HTTP/1.1 with NIOHTTP1, on
/// the configured address (`metrics.listen`, loopback by default). GET and HEAD only; anything else
/// is 404 or 405. Both are rendered on an event loop from memory: a scrape never waits for a device.
public struct MetricsService: Service {
    /// The address listened on.
    public let host: String
    /// The port asked for (0: any free one; `ready` is told the one bound).
    public let port: Int
    let metrics: GatewayMetrics
    let logger: Logger
    let ready: (@Sendable (Int) -> Void)?

    /// A service serving `metrics` on `host:port`; `ready` runs with the bound port once it listens.
    public init(host: String, port: Int, metrics: GatewayMetrics, logger: Logger, ready: (@Sendable (Int) -> Void)? = nil) {
        self.host = host
        self.port = port
        self.metrics = metrics
        self.logger = logger
        self.ready = ready
    }

    public func run() async throws {
        let metrics = self.metrics
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { child in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try child.pipeline.syncOperations.addHandler(MetricsHTTPHandler(metrics: metrics))
                    }
                }
                .bind(host: host, port: port)
                .get()
        } catch {
            throw StreamServer.SocketError(description: "metrics on \(host):\(port): cannot listen: \(error)")
        }
        let bound = channel.localAddress?.port ?? port
        logger.info("metrics listening", metadata: ["address": "\(host):\(bound)"])
        ready?(bound)
        do { try await gracefulShutdown() } catch { logger.debug("metrics: shutdown wait ended", metadata: ["error": "\(error)"]) }
        do { try await channel.close() } catch { logger.warning("metrics socket did not close cleanly", metadata: ["error": "\(error)"]) }
    }
}

/// Answers one HTTP request at a time on a connection: `/metrics`, `/status`, or an error status.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let metrics: GatewayMetrics
    private var head: HTTPRequestHead?

    init(metrics: GatewayMetrics) { self.metrics = metrics }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
        case .body:
            break
        case .end:
            guard let request = head else { return }
            head = nil
            respond(to: request, context: context)
        }
    }

    private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        let status: HTTPResponseStatus
        let type: String
        let body: [UInt8]
        if request.method != .GET && request.method != .HEAD {
            (status, type, body) = (.methodNotAllowed, "text/plain; charset=utf-8", Array("GET or HEAD only\n".utf8))
        } else if path == "/metrics" {
            (status, type, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics.exposition())
        } else if path == "/status" {
            (status, type, body) = (.ok, "application/json", metrics.statusJSON())
        } else {
            (status, type, body) = (.notFound, "text/plain; charset=utf-8", Array("/metrics or /status\n".utf8))
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(body.count))
        if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET, HEAD") }
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
