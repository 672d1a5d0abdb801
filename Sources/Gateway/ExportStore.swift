import Logging
import Modbus
import ModbusNIO
import ServiceLifecycle
import SunSpec
import Synchronization

/// What the SunSpec export serves, by export unit id: each device's SunSpec map relocated to a
/// standard one (`SunS` at 40000, its models, the end marker), updated on each poll. Reads are
/// answered from memory and never wait for a device; a device that is offline answers 0x0B.
public final class ExportStore: RegisterSource, Sendable {
    private struct Entry {
        var image: RegisterImage?
        var online = false
    }

    private let entries: Mutex<[UInt8: Entry]>

    /// A store for these export units (all offline until their first poll).
    public init(units: [Int]) {
        entries = Mutex(Dictionary(uniqueKeysWithValues: units.map { (UInt8(clamping: $0), Entry()) }))
    }

    /// Publishes a device's current map.
    public func update(unit: Int, image: RegisterImage) {
        entries.withLock { $0[UInt8(clamping: unit)] = Entry(image: image, online: true) }
    }

    /// Marks a device offline (its unit answers 0x0B).
    public func setOffline(unit: Int) {
        entries.withLock { $0[UInt8(clamping: unit)]?.online = false }
    }

    /// Whether a unit is served now (its device online, its map read).
    public func isOnline(unit: Int) -> Bool {
        entries.withLock { $0[UInt8(clamping: unit)].map { $0.online && $0.image != nil } ?? false }
    }

    public func read(unit: UInt8, kind: RegisterKind, address: Int, count: Int) -> ServerReply {
        entries.withLock { all in
            guard let entry = all[unit] else { return .exception(0x0B) }
            guard entry.online, let image = entry.image else { return .exception(0x0B) }
            let window = image.window(start: address, count: count)
            if window.missing != nil { return .exception(2) }
            return .registers(Array(window.values))
        }
    }

    /// A SunSpec device's models relocated to a map at 40000: `SunS`, each model's registers as read
    /// (with their own scale factors; registers the device refused stay holes), the end marker.
    public static func relocate(_ image: RegisterImage, models: [ModelHeader]) -> RegisterImage {
        var out = RegisterImage(blocks: [.init(start: 40000, registers: [0x5375, 0x6E53])])
        var address = 40002
        for model in models {
            let window = image.window(start: model.address, count: model.length + 2)
            if let missing = window.missing {
                var start = 0
                while start < window.count {
                    while start < window.count && missing[start] { start += 1 }
                    var end = start
                    while end < window.count && !missing[end] { end += 1 }
                    if end > start {
                        out.insert(
                            .init(
                                start: address + start,
                                registers: Array(window.values[(window.values.startIndex + start)..<(window.values.startIndex + end)])))
                    }
                    start = end
                }
            } else {
                out.insert(.init(start: address, registers: Array(window.values)))
            }
            address += model.length + 2
        }
        out.insert(.init(start: address, registers: [0xFFFF, 0]))
        return out
    }
}

/// The SunSpec Modbus TCP export as a service: FC3 and FC4 read the map, writes go to `writeHandler`
/// (the control pipeline, for devices with `control.export: true`) or get exception 1,
/// unknown function codes and partial frames stall no one, connections are capped, idle ones are
/// closed after `idleTimeout` (and, at the cap, the one idle longest makes room for a new client).
public struct ExportService: Service {
    let server: ModbusServer
    let logger: Logger

    /// An export listening on `host:port` (dotted IPv4); `metrics` counts its reads by unit,
    /// function and result; `writeHandler` (the control pipeline) answers writes, exception 1 without one.
    public init(
        host: String, port: Int, maxConnections: Int, idleTimeout: Duration?, store: ExportStore,
        writeHandler: (any ModbusWriteHandler)? = nil, logger: Logger, metrics: ExportMetrics? = nil
    ) {
        let source: any RegisterSource = metrics.map { CountedSource(source: store, metrics: $0) } ?? store
        server = ModbusServer(
            host: host, port: port, maxConnections: maxConnections, idleTimeout: idleTimeout, source: source, writeHandler: writeHandler,
            onEvent: { event in ExportService.log(event, logger: logger) })
        self.logger = logger
    }

    /// One line per connection the export closed or refused on its own.
    static func log(_ event: ServerConnectionEvent, logger: Logger) {
        switch event {
        case .idleClosed(let peer, let idle):
            logger.info("SunSpec export: idle connection closed", metadata: ["client": "\(peer)", "idle": "\(idle)"])
        case .evicted(let peer, let idle):
            logger.info(
                "SunSpec export: connection idle longest closed to admit a new client",
                metadata: ["client": "\(peer)", "idle": "\(idle)"])
        case .refused(let peer):
            logger.warning("SunSpec export: max_connections reached, new client refused", metadata: ["client": "\(peer)"])
        }
    }

    public func run() async throws {
        do {
            try await server.start()
        } catch {
            throw StreamServer.SocketError(description: "SunSpec export on \(server.host):\(server.port): \(error)")
        }
        logger.info("SunSpec export listening", metadata: ["address": "\(server.host):\(server.port)"])
        try? await gracefulShutdown()
        await server.stop()
    }
}

/// The export's source, counting each read it answers.
struct CountedSource: RegisterSource {
    let source: any RegisterSource
    let metrics: ExportMetrics

    func read(unit: UInt8, kind: RegisterKind, address: Int, count: Int) -> ServerReply {
        let reply = source.read(unit: unit, kind: kind, address: address, count: count)
        if case .registers = reply {
            metrics.answered(unit: unit, kind: kind, ok: true)
        } else {
            metrics.answered(unit: unit, kind: kind, ok: false)
        }
        return reply
    }
}
