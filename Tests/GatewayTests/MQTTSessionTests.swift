import Captures
import Foundation
import Logging
import MQTT
import SunSpec
import Testing

@testable import Gateway

/// The MQTT sessions driven by events in memory: topics, Sparkplug births, data by exception, deaths,
/// `seq` and `bdSeq`, the JSON buffer and its replay. The real broker is in Tests/Interop/mqtt_interop.py.
@Suite("MQTT sessions")
struct MQTTSessionTests {
    static let logger = Logger(label: "test")
    static let settings = MQTTSettings(
        connection: MQTTOptions(host: "h", port: 1883, clientID: "c"), qos: 1, topicPrefix: "sunspec",
        sparkplug: .init(group: "site1", node: "gw-1"), bufferMessages: 10, bufferBytes: 1 << 20)
    static let when = Date(timeIntervalSince1970: 1_700_000_000.123)

    /// The battery-inverter fixture's readings, register 40072 (model 103's `A`) set to `amps` if given.
    static func readings(amps: UInt16? = nil) throws -> [Reading] {
        var image = try fixtureImage("battery-inverter.json")
        if let amps { image.insert(.init(start: 40072, registers: [amps])) }
        return try DeviceDecoder.decode(image).models.map { Reading(device: "bess-1", instance: $0, timestamp: when) }
    }

    static func decode(_ message: MQTTMessage) throws -> [ProtobufReader.Field] {
        try #require(ProtobufReader.fields(of: message.payload[...]))
    }

    /// `seq` of a payload.
    static func seq(_ message: MQTTMessage) throws -> UInt64? {
        for field in try decode(message) {
            if case .varint(3, let v) = field { return v }
        }
        return nil
    }

    /// The metrics of a payload, each as its fields.
    static func metrics(_ message: MQTTMessage) throws -> [[ProtobufReader.Field]] {
        var out: [[ProtobufReader.Field]] = []
        for field in try decode(message) {
            if case .bytes(2, let body) = field { out.append(try #require(ProtobufReader.fields(of: body))) }
        }
        return out
    }

    /// Metric names of a payload.
    static func names(_ message: MQTTMessage) throws -> [String] {
        try metrics(message).map { fields in
            for field in fields {
                if case .bytes(1, let text) = field { return String(decoding: text, as: UTF8.self) }
            }
            return ""
        }
    }

    @Test func topics() {
        let json = JSONTopics(prefix: "site/sunspec")
        #expect(json.reading(device: "bess-1", model: 802, index: 0) == "site/sunspec/bess-1/802/0")
        #expect(json.meta(device: "bess-1", model: 802, index: 1) == "site/sunspec/bess-1/802/1/meta")
        #expect(json.status(device: "bess-1") == "site/sunspec/bess-1/status")
        #expect(json.gatewayStatus == "site/sunspec/gateway/status")
        let spb = SparkplugTopics(group: "site1", node: "gw-1")
        #expect(spb.node("NBIRTH") == "spBv1.0/site1/NBIRTH/gw-1")
        #expect(spb.device("DDATA", "bess-1") == "spBv1.0/site1/DDATA/gw-1/bess-1")
        #expect(spb.commandDevice("spBv1.0/site1/DCMD/gw-1/bess-1") == "bess-1")
        #expect(spb.commandDevice("spBv1.0/site1/DCMD/gw-2/bess-1") == nil)
    }

    @Test func metricsOfAReading() throws {
        let inverter = try #require(try Self.readings().first { $0.instance.model.id == 103 })
        let metrics = SparkplugMetrics.metrics(of: inverter)
        let amps = try #require(metrics.first { $0.name == "103/0/A" })
        #expect(amps.datatype == .double && amps.value == .double(131.28) && amps.units == "A")
        #expect(amps.timestamp == 1_700_000_000_123)
        #expect(!metrics.contains { $0.name.hasSuffix("/ID") || $0.name.hasSuffix("/L") || $0.name.hasSuffix("_SF") })
        let common = try #require(try Self.readings().first { $0.instance.model.id == 1 })
        #expect(SparkplugMetrics.metrics(of: common).first { $0.name == "1/0/Mn" }?.value == .string("Acme Storage"))
    }

    @Test func sparkplugBirthsDataAndDeaths() throws {
        let session = SparkplugSession(
            settings: Self.settings, ids: .init(group: "site1", node: "gw-1"), devices: ["bess-1"], logger: Self.logger, now: { Self.when })
        // The Will's bdSeq: the same until a connection is accepted, then one more.
        let will0 = try #require(session.willForNextConnect())
        #expect(will0.topic == "spBv1.0/site1/NDEATH/gw-1" && will0.qos == 1 && !will0.retain)
        #expect(try Self.names(will0) == ["bdSeq"])
        #expect(try Self.seq(will0) == nil)
        #expect(session.willForNextConnect()?.payload == will0.payload)

        let first = try Self.readings()
        #expect(session.take(.discovered(device: "bess-1", readings: first)))
        let births = session.connected()
        #expect(births.map(\.topic) == ["spBv1.0/site1/NBIRTH/gw-1", "spBv1.0/site1/DBIRTH/gw-1/bess-1"])
        #expect(try births.map(Self.seq) == [0, 1])
        #expect(try Self.names(births[0]) == ["bdSeq", "Node Control/Rebirth"])
        #expect(try Self.names(births[1]).contains("103/0/A"))
        // The discovery before the connect is in those births (no second DBIRTH); a poll with the same
        // values publishes nothing.
        #expect(session.next(limit: 10).isEmpty)
        #expect(!session.take(.readings(device: "bess-1", first)))
        // One value changed: one DDATA with that metric.
        #expect(session.take(.readings(device: "bess-1", try Self.readings(amps: 5000))))
        let data = session.next(limit: 10)
        #expect(data.map(\.topic) == ["spBv1.0/site1/DDATA/gw-1/bess-1"])
        #expect(try Self.names(data[0]) == ["103/0/A"])
        #expect(try Self.seq(data[0]) == 2)
        // Back to the first value: changed again (each poll is compared with the one before, not with
        // the birth), then the same again: nothing.
        #expect(session.take(.readings(device: "bess-1", first)))
        let back = session.next(limit: 10)
        #expect(try back.map(Self.names) == [["103/0/A"]])
        #expect(!session.take(.readings(device: "bess-1", first)))
        // Offline: DDEATH.
        #expect(session.take(.status(DeviceStatus(device: "bess-1", state: .offline, timestamp: "t"))))
        #expect(session.next(limit: 10).map(\.topic) == ["spBv1.0/site1/DDEATH/gw-1/bess-1"])
        #expect(!session.take(.status(DeviceStatus(device: "bess-1", state: .offline, timestamp: "t"))))
        #expect(session.willForNextConnect()?.payload != will0.payload)
    }

    @Test func sparkplugKeepsDataAcrossReconnectAsHistory() throws {
        let session = SparkplugSession(
            settings: Self.settings, ids: .init(group: "g", node: "n"), devices: ["bess-1"], logger: Self.logger, now: { Self.when })
        _ = session.willForNextConnect()
        _ = session.take(.discovered(device: "bess-1", readings: try Self.readings()))
        _ = session.connected()
        _ = session.next(limit: 10)
        session.disconnected()
        _ = session.take(.readings(device: "bess-1", try Self.readings(amps: 1)))
        _ = session.take(.readings(device: "bess-1", try Self.readings(amps: 2)))
        _ = session.willForNextConnect()
        let births = session.connected()
        #expect(try births.map(Self.seq) == [0, 1])
        let history = session.next(limit: 10)
        #expect(try history.map(Self.seq) == [2, 3])
        // is_historical (field 5) on each kept metric.
        for message in history {
            let metrics = try Self.metrics(message)
            #expect(!metrics.isEmpty && metrics.allSatisfy { $0.contains(.varint(5, 1)) })
        }
        // A Rebirth command: births again, from seq 0.
        let rebirth = SparkplugPayload(
            timestamp: 1, metrics: [SparkplugMetric(name: "Node Control/Rebirth", datatype: .boolean, value: .boolean(true))])
        session.received(topic: "spBv1.0/g/NCMD/n", payload: rebirth.encoded())
        #expect(try session.next(limit: 10).map(Self.seq) == [0, 1])
        // A DCMD is refused: nothing published.
        session.received(topic: "spBv1.0/g/DCMD/n/bess-1", payload: rebirth.encoded())
        #expect(session.next(limit: 10).isEmpty)
    }

    static func state(online: Bool, timestamp: UInt64) -> [UInt8] { Array("{\"online\":\(online),\"timestamp\":\(timestamp)}".utf8) }

    /// With `primary_host`, the births (and then data) wait on each connection for a STATE saying
    /// online; an older STATE is ignored; offline after the births asks for NDEATH and a reconnect.
    @Test func sparkplugWaitsForThePrimaryHost() throws {
        let session = SparkplugSession(
            settings: Self.settings, ids: .init(group: "g", node: "n", primaryHost: "scada1"), devices: ["bess-1"], logger: Self.logger,
            now: { Self.when })
        #expect(session.subscriptions == ["spBv1.0/g/NCMD/n", "spBv1.0/g/DCMD/n/+", "spBv1.0/STATE/scada1"])
        let will = try #require(session.willForNextConnect())
        _ = session.take(.discovered(device: "bess-1", readings: try Self.readings()))
        // Connected: nothing until the host is online; data is kept meanwhile.
        #expect(session.connected().isEmpty)
        #expect(session.take(.readings(device: "bess-1", try Self.readings(amps: 7))))
        #expect(session.next(limit: 10).isEmpty)
        session.received(topic: "spBv1.0/STATE/scada1", payload: Self.state(online: false, timestamp: 100))
        session.received(topic: "spBv1.0/STATE/scada1", payload: Array("ONLINE".utf8))
        session.received(topic: "spBv1.0/STATE/other", payload: Self.state(online: true, timestamp: 200))
        #expect(session.next(limit: 10).isEmpty && !session.takeRestart())
        // Online: the births, then the kept DDATA.
        session.received(topic: "spBv1.0/STATE/scada1", payload: Self.state(online: true, timestamp: 200))
        let out = session.next(limit: 10)
        #expect(out.map(\.topic) == ["spBv1.0/g/NBIRTH/n", "spBv1.0/g/DBIRTH/n/bess-1", "spBv1.0/g/DDATA/n/bess-1"])
        #expect(try out.map(Self.seq) == [0, 1, 2])
        // An offline STATE older than the online one is ignored; a newer one asks for a restart once.
        session.received(topic: "spBv1.0/STATE/scada1", payload: Self.state(online: false, timestamp: 150))
        #expect(!session.takeRestart())
        session.received(topic: "spBv1.0/STATE/scada1", payload: Self.state(online: false, timestamp: 300))
        #expect(session.takeRestart() && !session.takeRestart())
        // The goodbye is the NDEATH of this connection (the Will's bdSeq).
        #expect(session.goodbye().map(\.payload) == [will.payload])
        // Connected again: the retained offline STATE comes again (the same timestamp); still waiting,
        // no restart; online again: births with the next bdSeq.
        session.disconnected()
        let next = try #require(session.willForNextConnect())
        #expect(next.payload != will.payload)
        #expect(session.connected().isEmpty)
        session.received(topic: "spBv1.0/STATE/scada1", payload: Self.state(online: false, timestamp: 300))
        #expect(session.next(limit: 10).isEmpty && !session.takeRestart())
        session.received(topic: "spBv1.0/STATE/scada1", payload: Self.state(online: true, timestamp: 400))
        #expect(try session.next(limit: 10).map(Self.seq) == [0, 1])
    }

    @Test func sparkplugHostStatePayloads() throws {
        #expect(
            try SparkplugHostState(payload: Self.state(online: true, timestamp: 1_668_114_759_262))
                == .init(online: true, timestamp: 1_668_114_759_262))
        for bad in [
            "ONLINE", "{\"online\":true}", "{\"online\":1,\"timestamp\":5}", "{\"online\":true,\"timestamp\":-1}",
            "{\"online\":true,\"timestamp\":1.5}",
        ] {
            #expect(throws: DecodingError.self, "\(bad)") { try SparkplugHostState(payload: Array(bad.utf8)) }
        }
    }

    @Test func sparkplugSeqWrapsAt256() throws {
        let session = SparkplugSession(
            settings: MQTTSettings(connection: Self.settings.connection, sparkplug: .init(group: "g", node: "n"), bufferMessages: 1000),
            ids: .init(group: "g", node: "n"), devices: ["bess-1"], logger: Self.logger, now: { Self.when })
        _ = session.willForNextConnect()
        _ = session.take(.discovered(device: "bess-1", readings: try Self.readings()))
        _ = session.connected()
        var seqs: [UInt64?] = []
        for k in 0..<300 { _ = session.take(.readings(device: "bess-1", try Self.readings(amps: UInt16(k % 2 + 10)))) }
        seqs += try session.next(limit: 1000).map(Self.seq)
        let expected: [UInt64?] = (0..<300).map { k -> UInt64? in UInt64((k + 2) % 256) }
        #expect(seqs == expected)
    }

    @Test func jsonTopicsRenderTheStreamsRecords() throws {
        let large = MQTTSettings(connection: Self.settings.connection, topicPrefix: "sunspec")
        let session = JSONTopicSession(settings: large, prefix: "sunspec", logger: Self.logger)
        #expect(
            session.willForNextConnect()
                == MQTTMessage(topic: "sunspec/gateway/status", payload: Array("offline".utf8), qos: 1, retain: true))
        _ = session.take(.status(DeviceStatus(device: "bess-1", state: .online, models: [1, 103], timestamp: "t")))
        let readings = try Self.readings()
        _ = session.take(.discovered(device: "bess-1", readings: readings))
        let queued = session.next(limit: 100)
        #expect(queued.first?.topic == "sunspec/bess-1/status" && queued.first?.retain == true)
        #expect(queued.count == 1 + 2 * readings.count)
        let meta = try #require(queued.first { $0.topic == "sunspec/bess-1/103/0/meta" })
        #expect(
            meta.retain && String(decoding: meta.payload, as: UTF8.self).hasPrefix("{\"type\":\"meta\",\"device\":\"bess-1\",\"model\":103")
        )
        let reading = try #require(queued.first { $0.topic == "sunspec/bess-1/103/0" })
        let inverter = try #require(readings.first { $0.instance.model.id == 103 })
        var line = JSONBuffer(capacity: 4096)
        ReadingRecord.append(inverter.instance, device: "bess-1", timestamp: Timestamp.format(Self.when), to: &line)
        #expect(reading.payload + [0x0A] == line.bytes && !reading.retain && reading.qos == 1)
        // A map without model 103: its meta is cleared with an empty retained message.
        _ = session.take(.discovered(device: "bess-1", readings: readings.filter { $0.instance.model.id != 103 }))
        let cleared = session.next(limit: 100).filter { $0.topic == "sunspec/bess-1/103/0/meta" }
        #expect(cleared == [MQTTMessage(topic: "sunspec/bess-1/103/0/meta", payload: [], qos: 1, retain: true)])
    }

    @Test func jsonTopicsBufferAndReplay() throws {
        let session = JSONTopicSession(settings: Self.settings, prefix: "sunspec", logger: Self.logger)
        _ = session.take(.status(DeviceStatus(device: "bess-1", state: .online, models: [1, 103], timestamp: "t")))
        // Past 10 messages the oldest go (the status first); the rest replay in order after `online`
        // and the retained state (the status, still true).
        var lines: [String] = []
        for amps in 0..<11 {
            let one = try #require(try Self.readings(amps: UInt16(amps)).first { $0.instance.model.id == 103 })
            _ = session.take(.readings(device: "bess-1", [one]))
            var json = JSONBuffer(capacity: 4096)
            ReadingRecord.append(one.instance, device: "bess-1", timestamp: Timestamp.format(Self.when), to: &json)
            lines.append(String(decoding: json.bytes.dropLast(), as: UTF8.self))
        }
        #expect(session.buffered.count == 10 && session.buffered.dropped == 2)
        let replay = session.connected()
        #expect(replay.map(\.topic) == ["sunspec/gateway/status", "sunspec/bess-1/status"])
        #expect(replay.first?.payload == Array("online".utf8) && replay.allSatisfy(\.retain))
        let kept = session.next(limit: 100).map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(kept == Array(lines[1...]))
        #expect(session.goodbye().map(\.payload) == [Array("offline".utf8)])
    }
}
