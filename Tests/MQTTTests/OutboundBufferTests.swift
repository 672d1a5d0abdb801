import Testing

@testable import MQTT

/// The bounded buffer: order kept, oldest dropped first past either bound, drops counted.
@Suite struct OutboundBufferTests {
    func message(_ n: Int, size: Int = 10) -> MQTTMessage {
        MQTTMessage(topic: "t", payload: [UInt8](repeating: UInt8(n % 256), count: size - 1))
    }

    @Test func keepsOrder() {
        var buffer = OutboundBuffer<MQTTMessage>(maxItems: 10, maxBytes: 1000)
        for n in 0..<5 { buffer.append(message(n)) }
        #expect(buffer.count == 5 && buffer.bytes == 50)
        #expect(buffer.removeFirst(upTo: 3).map { $0.payload[0] } == [0, 1, 2])
        buffer.append(message(5))
        #expect(buffer.removeFirst(upTo: 10).map { $0.payload[0] } == [3, 4, 5])
        #expect(buffer.isEmpty && buffer.bytes == 0 && buffer.dropped == 0)
    }

    @Test func dropsOldestPastMessageBound() {
        var buffer = OutboundBuffer<MQTTMessage>(maxItems: 3, maxBytes: 1000)
        var gone = 0
        for n in 0..<5 { gone += buffer.append(message(n)) }
        #expect(gone == 2 && buffer.dropped == 2)
        #expect(buffer.removeFirst(upTo: 10).map { $0.payload[0] } == [2, 3, 4])
    }

    @Test func dropsOldestPastByteBound() {
        var buffer = OutboundBuffer<MQTTMessage>(maxItems: 100, maxBytes: 25)
        buffer.append(message(0))
        buffer.append(message(1))
        #expect(buffer.append(message(2)) == 1)
        #expect(buffer.bytes == 20)
        // One larger than the bound alone is kept (the newest), the rest go.
        #expect(buffer.append(message(3, size: 40)) == 2)
        #expect(buffer.count == 1 && buffer.bytes == 40 && buffer.dropped == 3)
    }

    @Test func manyThroughKeepOrder() {
        var buffer = OutboundBuffer<MQTTMessage>(maxItems: 1000, maxBytes: 1 << 20)
        var out: [UInt8] = []
        for n in 0..<700 {
            buffer.append(message(n))
            if n % 3 == 0 { out += buffer.removeFirst(upTo: 2).map { $0.payload[0] } }
        }
        out += buffer.removeFirst(upTo: 1000).map { $0.payload[0] }
        #expect(out == (0..<700).map { UInt8($0 % 256) })
    }

    @Test func updateAndFilter() {
        var buffer = OutboundBuffer<MQTTMessage>(maxItems: 10, maxBytes: 1000)
        for n in 0..<4 { buffer.append(message(n)) }
        buffer.filter { $0.payload[0] % 2 == 0 }
        buffer.update { $0.retain = true }
        #expect(buffer.count == 2 && buffer.bytes == 20)
        #expect(buffer.removeFirst(upTo: 5).map { "\($0.payload[0]) \($0.retain)" } == ["0 true", "2 true"])
    }
}
