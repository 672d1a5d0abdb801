import Captures
import Foundation
import Logging
import NIOCore
import NIOPosix
import SunSpec

/// The control socket's connections: one request a line, one answer a line, in order. Each
/// connection's client is its peer credentials (uid, pid), read when it connects.
final class ControlConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let controller: Controller
    private let logger: Logger
    private var buffer = ByteBuffer()
    private var client = ControlClient.socket(uid: UInt32.max, pid: -1)
    /// Completes when the answer to the last request read is written: answers keep the requests' order.
    private var last: EventLoopFuture<Void>?

    init(controller: Controller, logger: Logger) {
        self.controller = controller
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        if let provider = channel as? SocketOptionProvider {
            let credentials: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            credentials.whenComplete { result in
                switch result {
                case .success(let cred): loopBound.value.client = .socket(uid: cred.uid, pid: cred.pid)
                case .failure(let error):
                    loopBound.value.logger.warning("control client's credentials unknown", metadata: ["error": "\(error)"])
                }
            }
            last = credentials.map { _ in }.recover { _ in }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        while let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - buffer.readerIndex
            let line = buffer.readBytes(length: length) ?? []
            buffer.moveReaderIndex(forwardBy: 1)
            answer(Array(line.last == UInt8(ascii: "\r") ? line.dropLast() : line[...]), context: context)
        }
        if buffer.readableBytes > ControlRequest.maxLineBytes {
            let record = ControlRecord(
                timestamp: Timestamp.format(controller.clocks.wall()), id: nil, client: client, op: "?", device: nil, point: nil,
                outcome: ControlOutcome(.badRequest, error: "a request line of more than \(ControlRequest.maxLineBytes) bytes"))
            controller.report(record)
            let channel = context.channel
            channel.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: record.answerLine()))).whenComplete { _ in
                channel.close(promise: nil)
            }
            buffer.clear()
        }
        buffer.discardReadBytes()
    }

    /// Answers one line, after the answers before it.
    private func answer(_ line: [UInt8], context: ChannelHandlerContext) {
        guard !line.allSatisfy({ $0 == 32 || $0 == 9 }) else { return }  // blank lines are skipped
        let channel = context.channel
        let controller = controller
        let client = client
        let previous = last ?? channel.eventLoop.makeSucceededVoidFuture()
        let promise = channel.eventLoop.makePromise(of: [UInt8].self)
        promise.completeWithTask {
            do throws(ControlRequest.Malformed) {
                let request = try ControlRequest.parse(line[...])
                return await controller.handle(request, client: client).answerLine()
            } catch {
                let record = ControlRecord(
                    timestamp: Timestamp.format(controller.clocks.wall()), id: error.id, client: client, op: "?", device: nil, point: nil,
                    outcome: ControlOutcome(.badRequest, error: error.error))
                controller.report(record)
                return record.answerLine()
            }
        }
        last = previous.and(promise.futureResult).flatMap { _, bytes in
            channel.writeAndFlush(channel.allocator.buffer(bytes: bytes))
        }.recover { _ in }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Linux's `struct ucred` (SO_PEERCRED), laid out the same: pid, uid, gid.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Listens on the control socket (mode `control.socket.mode`, 0600 by default; a stale file is
/// replaced only when nothing listens on it) until closed.
struct ControlServer {
    let path: String
    let mode: mode_t
    let controller: Controller
    let logger: Logger

    /// Binds the socket; the channel closes it.
    func start() async throws -> Channel {
        try StreamServer.prepare(path)
        let controller = controller
        let logger = logger
        let channel: Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 64)
                .childChannelInitializer { child in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addHandler(ControlConnectionHandler(controller: controller, logger: logger))
                    }
                }
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false)
                .get()
        } catch {
            throw StreamServer.SocketError(description: "\(path): cannot listen: \(error)")
        }
        guard chmod(path, mode) == 0 else {
            let why = String(cString: strerror(errno))
            try await channel.close()
            throw StreamServer.SocketError(description: "\(path): cannot set mode \(String(mode, radix: 8)): \(why)")
        }
        return channel
    }
}
