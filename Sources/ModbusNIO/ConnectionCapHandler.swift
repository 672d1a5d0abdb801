import Modbus
import NIOCore

/// Admits a new connection through the server's `ConnectionRegistry` (at the cap, the connection
/// idle longest makes room, or the new one is refused and closed at once), tells it of each complete
/// request, and removes the connection when it closes.
final class ConnectionCapHandler: ChannelInboundHandler {
    typealias InboundIn = MBAPFrame
    typealias InboundOut = MBAPFrame

    private let registry: ConnectionRegistry
    private let onEvent: @Sendable (ServerConnectionEvent) -> Void

    init(registry: ConnectionRegistry, onEvent: @escaping @Sendable (ServerConnectionEvent) -> Void) {
        self.registry = registry
        self.onEvent = onEvent
    }

    func channelActive(context: ChannelHandlerContext) {
        let (admitted, event) = registry.admit(
            context.channel, peer: PeerName.of(context.channel.remoteAddress), now: context.eventLoop.now)
        if let event { onEvent(event) }
        guard admitted else {
            context.close(promise: nil)
            return
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        registry.completedRequest(context.channel, now: context.eventLoop.now)
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        registry.remove(context.channel)
        context.fireChannelInactive()
    }
}

/// How a client is named in events: `address:port`, or `?`.
enum PeerName {
    /// The name of the client at `address`.
    static func of(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress, let port = address.port else { return "?" }
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }
}
