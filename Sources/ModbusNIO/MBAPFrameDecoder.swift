import NIOCore

/// Frames Modbus TCP requests by their MBAP header's length field, never by function code: a request
/// with a function code nobody here knows (0x2B, read device identification) is still one frame, and
/// the next one starts where it ends. A nonzero protocol id or a length outside 2...254 throws
/// `MBAPFramingError` (the request handler then closes the connection).
struct MBAPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = MBAPFrame

    /// The MBAP header: transaction id, protocol id, length, unit id.
    static let headerLength = 7

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard
            let (transaction, protocolID, length, unit) = buffer.getMultipleIntegers(
                at: buffer.readerIndex, as: (UInt16, UInt16, UInt16, UInt8).self)
        else { return .needMoreData }
        guard protocolID == 0 else { throw MBAPFramingError.protocolID(protocolID) }
        guard (2...254).contains(length) else { throw MBAPFramingError.length(length) }
        // The length counts the unit id (in the header) and the PDU.
        let frameLength = Self.headerLength - 1 + Int(length)
        guard buffer.readableBytes >= frameLength else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: Self.headerLength)
        guard let pdu = buffer.readBytes(length: Int(length) - 1) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(MBAPFrame(transaction: transaction, unit: unit, pdu: pdu)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}
