import Modbus
import NIOCore
import Synchronization

/// Answers each framed request through a `ModbusResponder` and counts it; closes the connection on a
/// framing error (bytes that are not Modbus TCP), as the libmodbus server did.
final class ModbusRequestHandler: ChannelInboundHandler {
    typealias InboundIn = MBAPFrame
    typealias OutboundOut = MBAPFrame

    private let responder: ModbusResponder
    private let counter: RequestCounter

    init(responder: ModbusResponder, counter: RequestCounter) {
        self.responder = responder
        self.counter = counter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        // The decoder guarantees a function code (length 2 at least).
        let pdu = responder.replyPDU(unit: request.unit, function: request.pdu[0], body: request.pdu.dropFirst())
        counter.increment()
        context.writeAndFlush(wrapOutboundOut(MBAPFrame(transaction: request.transaction, unit: request.unit, pdu: pdu)), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Requests answered by a server's connections (registers or exception), for tests and benchmarks.
final class RequestCounter: Sendable {
    private let count = Atomic<Int>(0)

    /// The requests answered so far.
    var value: Int { count.load(ordering: .relaxed) }

    /// Counts one more.
    func increment() { count.add(1, ordering: .relaxed) }
}
