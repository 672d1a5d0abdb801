import Foundation
import Logging
import MQTT
import SunSpec
import Synchronization
import Testing

@testable import Gateway

/// DCMD through the control pipeline, in memory: metric names to points (the inverse of the DBIRTH's
/// names), Sparkplug values to setpoints, the metrics of a DCMD to requests, and a DCMD carried out by
/// a real `Controller` on a writable device. The broker is in Tests/Interop/mqtt_interop.py (`dcmd`).
@Suite("Sparkplug DCMD: names, values, the control pipeline")
struct SparkplugControlTests {
    static func number(_ text: String) throws -> SetpointValue { .number(try #require(ExactDecimal(parsing: text))) }

    // MARK: - Names

    @Test("every DBIRTH name of the fixture names the point it was made from")
    func namesRoundTrip() throws {
        let image = try fixtureImage("battery-inverter.json")
        let map = ControlMap(image: image, models: ControlMap.chain(image, base: 40000), catalog: .builtin)
        var checked = 0
        var valued = 0
        for reading in try MQTTSessionTests.readings() {
            for metric in SparkplugMetrics.metrics(of: reading) {
                let path = try SparkplugPointName.path(metric.name)
                #expect(path.model == reading.instance.model.id && path.instance == reading.instance.index, "\(metric.name)")
                #expect(path.point == metric.name.split(separator: "/").last.map(String.init), "\(metric.name)")
                guard case .success(let found) = map.find(path) else {
                    Issue.record("\(metric.name) as \(path): not on the map")
                    continue
                }
                #expect(found.definition.name == path.point, "\(metric.name)")
                // The value at the point is the metric's, through the DCMD's value mapping.
                if case .number(let n)? = found.value, let value = metric.value {
                    let setpoint = try SparkplugSetpoint.value(value, datatype: metric.datatype.rawValue)
                    #expect(setpoint == .number(n.normalized), "\(metric.name): \(setpoint) against \(n)")
                    valued += 1
                }
                checked += 1
            }
        }
        #expect(checked > 600 && valued > 300)
    }

    @Test("names as SparkplugMetrics writes them, 0-based, and their control paths")
    func names() throws {
        #expect(try SparkplugPointName.path("124/0/WChaMax") == PointPath(model: 124, point: "WChaMax"))
        #expect(try SparkplugPointName.path("124/0/WChaMax").description == "124.WChaMax")
        #expect(try SparkplugPointName.path("124/1/WChaMax").description == "124[1].WChaMax")
        let string = try SparkplugPointName.path("803/0/string[1]/StrSetEna")
        #expect(string == PointPath(model: 803, groups: [.init(name: "string", index: 1)], point: "StrSetEna"))
        #expect(string.description == "803.string[1].StrSetEna")
        #expect(try SparkplugPointName.path("803/2/string[0]/StrSoC").description == "803[2].string.StrSoC")
        #expect(try SparkplugPointName.path("9/0/single/Pt").groups == [.init(name: "single", index: 0)])
    }

    @Test(
        "malformed names are refused",
        arguments: [
            "", "124", "124/0", "124/0/", "/0/WChaMax", "124//WChaMax", "x/0/WChaMax", "0/0/WChaMax", "65535/0/WChaMax", "124/-1/WChaMax",
            "124/01/WChaMax", "124/65536/WChaMax", "124/0/W.ChaMax", "124/0/WChaMax[1]", "803/0/string[1/StrSetEna",
            "803/0/string[x]/StrSetEna", "803/0/string[]/StrSetEna", "803/0/[1]/StrSetEna", "803/0/string[65536]/StrSetEna",
            "Node Control/Rebirth", "Device Control/Rebirth", "124/0/Wcha Max",
        ])
    func malformedNames(_ name: String) {
        #expect(throws: ControlPathError.self) { try SparkplugPointName.path(name) }
    }

    // MARK: - Values

    @Test("integers: exact, signed by the datatype (either width of two's complement), unsigned without one")
    func integers() throws {
        func value(_ v: SparkplugValue, _ type: SparkplugDataType?) throws -> SetpointValue {
            try SparkplugSetpoint.value(v, datatype: type?.rawValue)
        }
        #expect(try value(.int(25000), nil) == Self.number("25000"))
        #expect(try value(.long(25000), nil) == Self.number("25000"))
        #expect(try value(.int(UInt32(bitPattern: -5)), nil) == Self.number("4294967291"))
        #expect(try value(.int(UInt32(bitPattern: -5)), .int16) == Self.number("-5"))
        #expect(try value(.int(0xFFFB), .int16) == Self.number("-5"))
        #expect(try value(.int(0x7FFF), .int16) == Self.number("32767"))
        #expect(try value(.int(0xFF), .int8) == Self.number("-1"))
        #expect(try value(.int(UInt32(bitPattern: -1)), .int8) == Self.number("-1"))
        #expect(try value(.int(0x8000_0000), .int32) == Self.number("-2147483648"))
        #expect(try value(.long(UInt64(bitPattern: -20000)), .int64) == Self.number("-20000"))
        #expect(try value(.long(UInt64(bitPattern: -20000)), .int32) == Self.number("-20000"))
        #expect(try value(.long(0xFFFF_B1E0), .int32) == Self.number("-20000"))
        #expect(try value(.int(65535), .uint16) == Self.number("65535"))
        #expect(try value(.long(300), .uint32) == Self.number("300"))
        #expect(try value(.long(UInt64.max), .uint64) == .number(ExactDecimal(unsigned: UInt64.max, exponent: 0).normalized))
        for (v, type) in [
            (SparkplugValue.int(0x1FF), SparkplugDataType.int8), (.int(0x1_0000), .uint16), (.long(1 << 32), .uint32),
            (.long(UInt64(bitPattern: -40000)), .int16), (.int(3), .double), (.int(1), .boolean), (.long(5), .string),
        ] {
            #expect(throws: SparkplugSetpoint.Refusal.self, "\(v) as \(type)") { try value(v, type) }
        }
        #expect(throws: SparkplugSetpoint.Refusal.self) { try SparkplugSetpoint.value(.long(1), datatype: 13) }  // DateTime
    }

    @Test("floats by their shortest text, strings as symbols; NaN, infinities and booleans refused")
    func otherValues() throws {
        #expect(try SparkplugSetpoint.value(.double(12.5), datatype: 10) == Self.number("12.5"))
        #expect(try SparkplugSetpoint.value(.double(25000), datatype: nil) == Self.number("25000"))
        #expect(try SparkplugSetpoint.value(.float(0.1), datatype: 9) == Self.number("0.1"))
        #expect(try SparkplugSetpoint.value(.double(-0.1), datatype: 9) == Self.number("-0.1"))
        #expect(try SparkplugSetpoint.value(.double(1e22), datatype: nil) == Self.number("1e22"))
        #expect(try SparkplugSetpoint.value(.string("CONNECT"), datatype: 12) == .symbol("CONNECT"))
        #expect(try SparkplugSetpoint.value(.string("CONNECT"), datatype: nil) == .symbol("CONNECT"))
        for (v, type) in [
            (SparkplugValue.double(.nan), UInt32?.none), (.double(.infinity), nil), (.float(-.infinity), 9), (.boolean(true), nil),
            (.boolean(false), 11), (.double(1.5), 2), (.string("CONNECT"), 6),
        ] {
            #expect(throws: SparkplugSetpoint.Refusal.self, "\(v) as \(String(describing: type))") {
                try SparkplugSetpoint.value(v, datatype: type)
            }
        }
    }

    @Test("the ttl property: a String duration")
    func ttl() throws {
        #expect(try SparkplugSetpoint.ttl([:]) == nil)
        #expect(try SparkplugSetpoint.ttl(["units": .string("W")]) == nil)
        #expect(try SparkplugSetpoint.ttl(["ttl": .string("30s")]) == .seconds(30))
        #expect(try SparkplugSetpoint.ttl(["ttl": .string("500ms")]) == .milliseconds(500))
        for bad: SparkplugValue in [.string("soon"), .string("0s"), .string("-1s"), .long(30)] {
            #expect(throws: SparkplugSetpoint.Refusal.self, "\(bad)") { try SparkplugSetpoint.ttl(["ttl": bad]) }
        }
    }

    // MARK: - Commands

    /// A DCMD payload's bytes: metrics with name, datatype, value and properties, as a host writes them.
    static func dcmd(_ metrics: [(name: String?, datatype: UInt32?, value: SparkplugValue?, ttl: String?)]) -> [UInt8] {
        var out = ProtobufWriter()
        out.uint(1, 1_800_000_000_000)
        for m in metrics {
            out.message(2) { w in
                if let name = m.name { w.string(1, name) }
                if let datatype = m.datatype { w.uint(4, UInt64(datatype)) }
                if let ttl = m.ttl {
                    w.message(9) { set in
                        set.string(1, "ttl")
                        set.message(2) { p in
                            p.uint(1, 12)
                            p.string(8, ttl)
                        }
                    }
                }
                switch m.value {
                case .int(let v)?: w.uint(10, UInt64(v))
                case .long(let v)?: w.uint(11, v)
                case .double(let v)?: w.double(13, v)
                case .boolean(let v)?: w.bool(14, v)
                case .string(let v)?: w.string(15, v)
                case .float(let v)?: w.float(12, v)
                case nil: w.bool(7, true)
                }
            }
        }
        return out.bytes
    }

    @Test("the command reader takes the datatype, is_null and the properties")
    func commandFields() throws {
        let command = try #require(
            SparkplugCommand(
                payload: Self.dcmd([
                    ("124/0/WChaMax", 2, .int(UInt32(bitPattern: -3)), "30s"), ("124/0/StorCtl_Mod", nil, nil, nil),
                ])))
        #expect(command.metrics.count == 2)
        #expect(command.metrics[0].datatype == 2 && command.metrics[0].properties == ["ttl": .string("30s")])
        #expect(command.metrics[0].value == .int(UInt32(bitPattern: -3)) && !command.metrics[0].isNull)
        #expect(command.metrics[1].isNull && command.metrics[1].value == nil && command.metrics[1].datatype == nil)
        // The encoder's units property reads back.
        let birth = SparkplugPayload(
            timestamp: 1, metrics: [SparkplugMetric(name: "103/0/A", datatype: .double, value: .double(1), units: "A")])
        let read = try #require(SparkplugCommand(payload: birth.encoded()))
        #expect(read.metrics[0].properties == ["units": .string("A")] && read.metrics[0].datatype == 10)
    }

    @Test("a DCMD's metrics as requests, in order; names and values that are not points refused")
    func steps() throws {
        let command = try #require(
            SparkplugCommand(
                payload: Self.dcmd([
                    ("124/0/WChaMax", 10, .double(25000), "30s"), ("803/0/string[1]/StrSetEna", 6, .int(1), nil),
                    ("Device Control/Rebirth", 11, .boolean(true), nil), ("124/0/WChaMax", nil, .boolean(true), nil),
                    ("124/0/WChaMax", nil, .int(5), "later"),
                ])))
        let steps = SparkplugDeviceControl.steps(command, device: "bess-1", id: "dcmd-7")
        #expect(steps.count == 5)
        #expect(
            steps[0]
                == .request(
                    ControlRequest(
                        id: "dcmd-7.1", op: .set, device: "bess-1", point: "124.WChaMax", value: try Self.number("25000"), ttl: .seconds(30)
                    )))
        #expect(
            steps[1]
                == .request(
                    ControlRequest(
                        id: "dcmd-7.2", op: .set, device: "bess-1", point: "803.string[1].StrSetEna", value: try Self.number("1"))))
        guard case .refused("dcmd-7.3", "Device Control/Rebirth", nil, _) = steps[2] else { Issue.record("\(steps[2])"); return }
        guard case .refused("dcmd-7.4", "124.WChaMax", nil, let error) = steps[3], error.contains("Boolean") else {
            Issue.record("\(steps[3])")
            return
        }
        guard case .refused("dcmd-7.5", "124.WChaMax", .number, let ttlError) = steps[4], ttlError.contains("later") else {
            Issue.record("\(steps[4])")
            return
        }
    }

    @Test("the audit line names the DCMD's topic")
    func auditLine() {
        let record = ControlRecord(
            timestamp: "2026-12-02T06:00:00.000Z", id: "dcmd-1.1", client: .mqtt("spBv1.0/site1/DCMD/gw-1/bess-1"), op: "set",
            device: "bess-1", point: "124.WChaMax", outcome: ControlOutcome(.notAllowed, error: "no"))
        let line = json(String(decoding: record.auditLine(), as: UTF8.self))
        #expect(line["client"] as? [String: String] == ["mqtt": "spBv1.0/site1/DCMD/gw-1/bess-1"])
    }

    @Test("the session hands a DCMD to its hook with the topic; a payload that does not parse is not handed on")
    func sessionHook() {
        let seen = Mutex<[(String, String, Int)]>([])
        let session = SparkplugSession(
            settings: MQTTSessionTests.settings, ids: .init(group: "g", node: "n"), devices: ["bess-1"], logger: MQTTSessionTests.logger,
            deviceCommand: { topic, device, command in seen.withLock { $0.append((topic, device, command.metrics.count)) } })
        session.received(topic: "spBv1.0/g/DCMD/n/bess-1", payload: Self.dcmd([("124/0/WChaMax", nil, .int(1), nil)]))
        session.received(topic: "spBv1.0/g/DCMD/n/bess-1", payload: [0x12, 0x05, 0x0A])
        let calls = seen.withLock { $0 }
        #expect(calls.count == 1)
        #expect(calls.first?.0 == "spBv1.0/g/DCMD/n/bess-1" && calls.first?.1 == "bess-1" && calls.first?.2 == 1)
    }

    // MARK: - Through the controller

    @Test("a DCMD is carried out by the controller: applied, refused, each audited with the mqtt client, in order")
    func throughTheController() async throws {
        let s = try await ControlTests().start()
        let control = SparkplugDeviceControl(logger: Logger(label: "test"))
        let topic = "spBv1.0/site1/DCMD/gw-1/bess-1"
        // Before the controller is attached: refused, nothing audited.
        control.take(
            topic: topic, device: "bess-1",
            command: try #require(SparkplugCommand(payload: Self.dcmd([("124/0/WChaMax", nil, .int(30000), nil)]))))
        control.attach(s.controller)
        // A metric with no name, or no value: the whole DCMD refused, nothing written.
        control.take(
            topic: topic, device: "bess-1",
            command: try #require(
                SparkplugCommand(payload: Self.dcmd([("124/0/WChaMax", nil, .int(30000), nil), (nil, nil, .int(1), nil)]))))
        control.take(
            topic: topic, device: "bess-1", command: try #require(SparkplugCommand(payload: Self.dcmd([("124/0/WChaMax", nil, nil, nil)]))))
        control.take(
            topic: topic, device: "bess-1",
            command: try #require(
                SparkplugCommand(payload: Self.dcmd([("124/0/WChaMax", 10, .double(25000), nil), ("124/0/WChaGra", 6, .int(5), nil)]))))
        let first = try #require(await s.recorder.line { $0.contains("\"type\":\"control\"") })
        let second = try #require(await s.recorder.line { $0.contains("\"type\":\"control\"") })
        #expect(json(first)["id"] as? String == "dcmd-1.1" && json(first)["result"] as? String == "applied")
        #expect(json(first)["client"] as? [String: String] == ["mqtt": topic])
        #expect(json(second)["id"] as? String == "dcmd-1.2" && json(second)["result"] as? String == "not_allowed")
        #expect(s.device.writes.count == 1)
        #expect(s.device.value(at: 40279) == 2500)
        // The applied one's intent and outcome lines, and the refusal's one line.
        #expect(s.auditLines.map { json($0)["result"] as? String } == ["pending", "applied", "not_allowed"])
        #expect(s.auditLines.map { json($0)["client"] as? [String: String] } == [["mqtt": topic], ["mqtt": topic], ["mqtt": topic]])
        // DCMDs one after another are carried out in the order they arrived: the last value stays.
        for watts in [30000, 20000, 40000] {
            control.take(
                topic: topic, device: "bess-1",
                command: try #require(SparkplugCommand(payload: Self.dcmd([("124/0/WChaMax", nil, .int(UInt32(watts)), nil)]))))
        }
        for _ in 0..<3 { _ = try #require(await s.recorder.line { $0.contains("\"type\":\"control\"") }) }
        let outcomes = s.auditLines.filter { json($0)["result"] as? String != "pending" }
        #expect(outcomes.suffix(3).map { json($0)["id"] as? String } == ["dcmd-2.1", "dcmd-3.1", "dcmd-4.1"])
        #expect(outcomes.suffix(3).map { json($0)["readback"] as? Int } == [30000, 20000, 40000])
        #expect(s.device.value(at: 40279) == 4000)
        await s.gateway.stop()
    }
}
