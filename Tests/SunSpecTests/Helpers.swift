import Testing

@testable import SunSpec

/// Registers of a model instance (ID, L, body) built from the definition's own encoder.
func registers(_ id: Int, _ values: [String: RawValue], length: Int? = nil) throws -> [UInt16] {
    let model = try #require(ModelCatalog.builtin.definition(for: id))
    return try ModelEncoder.encode(model, values: values, length: length)
}

/// A SunSpec map: SunS at `base`, the models, and the end marker unless `endMarker` is false.
func image(base: Int = 40000, _ models: [[UInt16]], endMarker: Bool = true) -> RegisterImage {
    var regs: [UInt16] = [0x5375, 0x6E53]
    for m in models { regs += m }
    if endMarker { regs += [0xFFFF, 0] }
    return RegisterImage(blocks: [.init(start: base, registers: regs)])
}

/// Decodes one model's registers.
func decode(_ id: Int, _ regs: [UInt16]) throws -> DecodedModel {
    let model = try #require(ModelCatalog.builtin.definition(for: id))
    return ModelDecoder.decode(model, window: RegisterWindow(regs), length: Int(regs[1]))
}

/// The reading line of a decoded model, without its newline.
func readingLine(_ model: DecodedModel, address: Int = 40002, index: Int = 0) -> String {
    var buffer = JSONBuffer()
    ReadingRecord.append(ModelInstance(address: address, index: index, model: model), device: "d", timestamp: nil, to: &buffer)
    return String(decoding: buffer.bytes.dropLast(), as: UTF8.self)
}

/// The JSON text of one point value.
func json(_ value: PointValue) -> String {
    var buffer = JSONBuffer()
    buffer.value(value)
    return String(decoding: buffer.bytes, as: UTF8.self)
}
