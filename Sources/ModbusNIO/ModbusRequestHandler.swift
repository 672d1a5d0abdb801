import Modbus
import NIOCore
import Synchronization

/// Answers each framed request through a `ModbusResponder` and counts it; closes the connection on a
/// framing error (bytes that are not Modbus TCP), as the libmodbus server did.
///
/// With a `ModbusWriteHandler`, writes (functions 6 and 16) are answered by it, asynchronously, and
/// the replies of one connection keep the order of its requests: requests that come while a write
/// is pending wait for it (and, past `mostWaiting` of them, the connection is not read from until
/// they have been answered).
final class ModbusRequestHandler: ChannelInboundHandler {
    typealias InboundIn = MBAPFrame
    typealias OutboundOut = MBAPFrame

    /// Requests held behind a pending write before the connection stops being read.
    static let mostWaiting = 16

    private let responder: ModbusResponder
    private let counter: RequestCounter
    private let writeHandler: (any ModbusWriteHandler)?
    /// Whether a write is with the write handler.
    private var writing = false
    /// Requests received since, in order.
    private var waiting = CircularBuffer<MBAPFrame>()
    /// Whether the connection is not read from (too many requests waiting).
    private var paused = false

    init(responder: ModbusResponder, counter: RequestCounter, writeHandler: (any ModbusWriteHandler)? = nil) {
        self.responder = responder
        self.counter = counter
        self.writeHandler = writeHandler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        guard !writing else {
            waiting.append(request)
            if waiting.count >= Self.mostWaiting, !paused { setReading(false, context: context) }
            return
        }
        answer(request, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        waiting.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Answers `request`: at once, or, a write with a write handler, once the handler has.
    private func answer(_ request: MBAPFrame, context: ChannelHandlerContext) {
        // The decoder guarantees a function code (length 2 at least).
        guard let writeHandler, let function = WriteFunction(rawValue: Int(request.pdu[0])) else {
            reply(
                to: request, pdu: responder.replyPDU(unit: request.unit, function: request.pdu[0], body: request.pdu.dropFirst()),
                context: context)
            return
        }
        switch WriteRequest.parse(function: function, body: request.pdu.dropFirst()) {
        case .exception(let code):
            reply(to: request, pdu: [function.functionCode | 0x80, code], context: context)
        case .request(let write):
            writing = true
            let peer = PeerName.of(context.channel.remoteAddress)
            let unit = request.unit
            context.eventLoop.makeFutureWithTask {
                await writeHandler.write(unit: unit, function: function, address: write.address, registers: write.registers, peer: peer)
            }.assumeIsolated().whenSuccess { answer in
                self.written(request, write, answer, context: context)
            }
        }
    }

    /// The write handler answered `request`: its reply, then the requests that waited for it.
    private func written(_ request: MBAPFrame, _ write: WriteRequest, _ outcome: ServerWriteReply, context: ChannelHandlerContext) {
        writing = false
        guard context.channel.isActive else { return }
        switch outcome {
        case .written: reply(to: request, pdu: write.replyPDU, context: context)
        case .exception(let code): reply(to: request, pdu: [write.function.functionCode | 0x80, code], context: context)
        }
        while !writing, let next = waiting.popFirst() { answer(next, context: context) }
        if paused, waiting.count < Self.mostWaiting { setReading(true, context: context) }
    }

    /// Stops or resumes reading the connection; a connection that cannot be held back is closed.
    private func setReading(_ on: Bool, context: ChannelHandlerContext) {
        paused = !on
        do {
            try context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: on)
        } catch {
            context.close(promise: nil)
        }
    }

    private func reply(to request: MBAPFrame, pdu: [UInt8], context: ChannelHandlerContext) {
        counter.increment()
        context.writeAndFlush(wrapOutboundOut(MBAPFrame(transaction: request.transaction, unit: request.unit, pdu: pdu)), promise: nil)
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
