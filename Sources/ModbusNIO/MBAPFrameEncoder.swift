import NIOCore

/// Writes a reply as Modbus TCP: the MBAP header (protocol id 0, length of the PDU plus the unit id), then the PDU.
struct MBAPFrameEncoder: MessageToByteEncoder {
    typealias OutboundIn = MBAPFrame

    func encode(data: MBAPFrame, out: inout ByteBuffer) throws {
        out.writeMultipleIntegers(data.transaction, UInt16(0), UInt16(data.pdu.count + 1), data.unit)
        out.writeBytes(data.pdu)
    }
}
