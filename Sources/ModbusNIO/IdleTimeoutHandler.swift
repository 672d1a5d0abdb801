import Modbus
import NIOCore

/// Closes a connection with no complete request for `timeout` and reports it: a frame held half way,
/// or bytes dribbled in, count as idle (this handler sits after the decoder and sees whole requests only).
///
/// One timer per connection: when it fires early (a request came since it was set), it is set again
/// for what is left.
final class IdleTimeoutHandler: ChannelInboundHandler {
    typealias InboundIn = MBAPFrame
    typealias InboundOut = MBAPFrame

    private let timeout: TimeAmount
    private let onEvent: @Sendable (ServerConnectionEvent) -> Void
    private var lastRequest: NIODeadline = .uptimeNanoseconds(0)
    private var timer: Scheduled<Void>?

    init(timeout: Duration, onEvent: @escaping @Sendable (ServerConnectionEvent) -> Void) {
        self.timeout = TimeAmount(timeout)
        self.onEvent = onEvent
    }

    func channelActive(context: ChannelHandlerContext) {
        lastRequest = context.eventLoop.now
        schedule(context, at: lastRequest + timeout)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRequest = context.eventLoop.now
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancel()
    }

    private func schedule(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        // The handler and its context belong to the channel's event loop; the timer runs there too.
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            bound.value.handler.timerFired(bound.value.context)
        }
    }

    private func timerFired(_ context: ChannelHandlerContext) {
        timer = nil
        guard context.channel.isActive else { return }
        let deadline = lastRequest + timeout
        guard context.eventLoop.now >= deadline else {
            schedule(context, at: deadline)
            return
        }
        onEvent(.idleClosed(peer: PeerName.of(context.channel.remoteAddress), idle: Duration(timeout)))
        context.close(promise: nil)
    }

    private func cancel() {
        timer?.cancel()
        timer = nil
    }
}
