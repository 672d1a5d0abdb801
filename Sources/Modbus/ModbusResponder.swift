/// The answer of a served device to one request, with no I/O: a request PDU (unit, function code,
/// body) in, the reply PDU (function code onwards) out. The TCP server (`ModbusNIO`) and the RTU
/// simulator (`ModbusRTUServer`) both answer through it.
///
/// Reads of holding (3) and input (4) registers are served from the `RegisterSource`; writes (6
/// and 16, checked by `WriteRequest`) when it is a `WritableRegisterSource`; any other function
/// code, and writes to a source that is not writable, get exception 1 at once.
public struct ModbusResponder: Sendable {
    /// Where the registers come from.
    public let source: any RegisterSource
    /// The same source, when it takes writes.
    private let writable: (any WritableRegisterSource)?

    /// A responder serving `source`.
    public init(source: any RegisterSource) {
        self.source = source
        self.writable = source as? any WritableRegisterSource
    }

    /// The reply PDU to `function` with `body` (the PDU after its function code) for `unit`.
    public func replyPDU(unit: UInt8, function: UInt8, body: some Collection<UInt8>) -> [UInt8] {
        if let write = WriteFunction(rawValue: Int(function)), let writable {
            return replyPDU(unit: unit, write: write, body: body, to: writable)
        }
        guard function == 3 || function == 4 else { return [function | 0x80, 1] }
        let fields = Array(body.prefix(4))
        guard fields.count == 4 else { return [function | 0x80, 3] }
        let address = Int(fields[0]) << 8 | Int(fields[1])
        let count = Int(fields[2]) << 8 | Int(fields[3])
        // Modbus application protocol 6.3: a quantity outside 1...125 is exception 3; a valid quantity
        // that runs past register 65535 is exception 2 (illegal data address).
        guard (1...125).contains(count) else { return [function | 0x80, 3] }
        guard address + count <= 65536 else { return [function | 0x80, 2] }
        switch source.read(unit: unit, kind: function == 3 ? .holding : .input, address: address, count: count) {
        case .registers(let registers) where registers.count == count:
            var pdu: [UInt8] = [function, UInt8(count * 2)]
            pdu.reserveCapacity(2 + count * 2)
            for r in registers {
                pdu.append(UInt8(r >> 8))
                pdu.append(UInt8(r & 0xFF))
            }
            return pdu
        case .registers:
            return [function | 0x80, 4]
        case .exception(let code):
            return [function | 0x80, code]
        }
    }

    private func replyPDU(
        unit: UInt8, write: WriteFunction, body: some Collection<UInt8>, to writable: any WritableRegisterSource
    ) -> [UInt8] {
        switch WriteRequest.parse(function: write, body: body) {
        case .exception(let code):
            return [write.functionCode | 0x80, code]
        case .request(let request):
            switch writable.write(unit: unit, address: request.address, registers: request.registers) {
            case .written: return request.replyPDU
            case .exception(let code): return [write.functionCode | 0x80, code]
            }
        }
    }
}
