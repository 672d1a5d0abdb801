import Testing

@testable import MQTT

/// The Sparkplug B encoder against bytes computed by hand from the protobuf wire format.
@Suite struct SparkplugEncodingTests {
    @Test func varints() {
        var w = ProtobufWriter()
        w.varint(0)
        w.varint(1)
        w.varint(127)
        w.varint(128)
        w.varint(300)
        w.varint(UInt64.max)
        #expect(w.bytes == [0x00, 0x01, 0x7F, 0x80, 0x01, 0xAC, 0x02] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

    @Test func payloadWithOneMetric() {
        let payload = SparkplugPayload(
            timestamp: 1000, metrics: [SparkplugMetric(name: "a", datatype: .uint16, value: .int(5))], seq: 1)
        // timestamp: field 1 varint 1000; metric: field 2, 7 bytes (name "a", datatype 6, int_value 5); seq: field 3.
        #expect(payload.encoded() == [0x08, 0xE8, 0x07, 0x12, 0x07, 0x0A, 0x01, 0x61, 0x20, 0x06, 0x50, 0x05, 0x18, 0x01])
    }

    @Test func nullWithUnitsAndTimestamp() {
        let metric = SparkplugMetric(name: "W", timestamp: 1, datatype: .double, value: nil, units: "W")
        var w = ProtobufWriter()
        metric.write(to: &w)
        let properties: [UInt8] = [0x0A, 0x05, 0x75, 0x6E, 0x69, 0x74, 0x73, 0x12, 0x05, 0x08, 0x0C, 0x42, 0x01, 0x57]
        #expect(w.bytes == [0x0A, 0x01, 0x57, 0x18, 0x01, 0x20, 0x0A, 0x38, 0x01, 0x4A, 0x0E] + properties)
    }

    @Test func valueFields() {
        func bytes(_ value: SparkplugValue, _ type: SparkplugDataType) -> [UInt8] {
            var w = ProtobufWriter()
            SparkplugMetric(name: "", datatype: type, isHistorical: true, value: value).write(to: &w)
            return w.bytes
        }
        // name "" (0A 00), datatype, is_historical (28 01), then the value field.
        #expect(bytes(.double(1.5), .double) == [0x0A, 0x00, 0x20, 0x0A, 0x28, 0x01, 0x69, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F])
        #expect(bytes(.float(1.5), .float) == [0x0A, 0x00, 0x20, 0x09, 0x28, 0x01, 0x65, 0, 0, 0xC0, 0x3F])
        #expect(bytes(.int(UInt32(bitPattern: -2)), .int16) == [0x0A, 0x00, 0x20, 0x02, 0x28, 0x01, 0x50, 0xFE, 0xFF, 0xFF, 0xFF, 0x0F])
        #expect(bytes(.long(300), .uint32) == [0x0A, 0x00, 0x20, 0x07, 0x28, 0x01, 0x58, 0xAC, 0x02])
        #expect(bytes(.boolean(true), .boolean) == [0x0A, 0x00, 0x20, 0x0B, 0x28, 0x01, 0x70, 0x01])
        #expect(bytes(.string("hi"), .string) == [0x0A, 0x00, 0x20, 0x0C, 0x28, 0x01, 0x7A, 0x02, 0x68, 0x69])
    }

    @Test func commandReadsBackWhatTheEncoderWrote() throws {
        let payload = SparkplugPayload(
            timestamp: 5,
            metrics: [
                SparkplugMetric(name: "Node Control/Rebirth", datatype: .boolean, value: .boolean(true)),
                SparkplugMetric(name: "x", alias: 3, datatype: .double, value: .double(-2.25), units: "V"),
            ])
        let command = try #require(SparkplugCommand(payload: payload.encoded()))
        #expect(command.asksRebirth)
        #expect(command.metrics.count == 2)
        #expect(command.metrics[1].name == "x" && command.metrics[1].alias == 3 && command.metrics[1].value == .double(-2.25))
    }

    @Test func malformedCommands() {
        #expect(SparkplugCommand(payload: [0x12, 0x05, 0x0A]) == nil)  // a metric longer than the bytes
        #expect(SparkplugCommand(payload: [0x0B]) == nil)  // wire type 3 (groups) is not read
        #expect(SparkplugCommand(payload: [])?.metrics == [])
        #expect(SparkplugCommand(payload: SparkplugPayload(timestamp: 1).encoded())?.asksRebirth == false)
    }
}
