// TEMPORARY: stand-ins for the interfaces helpers W and P are building (see /work/notes/control-interfaces.md).
// Deleted at the merge.
import Modbus
import SunSpec

#if canImport(Glibc)
    import Glibc
#endif

public enum WriteFunction: Int, Sendable, Equatable { case single = 6, multiple = 16 }

public struct GroupStep: Sendable, Hashable {
    public let name: String
    public let index: Int
}

public struct ControlPathError: Error, Equatable, CustomStringConvertible {
    public let description: String
}

public struct PointPath: Sendable, Hashable, CustomStringConvertible {
    public let model: Int
    public let instance: Int
    public let groups: [GroupStep]
    public let point: String
    public init(parsing text: String) throws(ControlPathError) {
        let parts = text.split(separator: ".")
        guard parts.count == 2, let m = Int(parts[0]) else { throw ControlPathError(description: "not a point: \(text)") }
        model = m
        instance = 0
        groups = []
        point = String(parts[1])
    }
    public var description: String { "\(model).\(point)" }
}

extension ModelDefinition {
    public func point(at path: PointPath) throws(ControlPathError) -> PointDefinition {
        guard let i = group.pointIndex(named: path.point) else { throw ControlPathError(description: "no point \(path.point)") }
        return group.points[i]
    }
}

public enum ScaleLocation: Sendable, Equatable {
    case none
    case constant(Int)
    case register(offset: Int)
}

public struct PointLocation: Sendable, Equatable {
    public let offset: Int
    public let size: Int
    public let scale: ScaleLocation
}

public enum ControlLayout {
    public static func locate(_ path: PointPath, in definition: ModelDefinition, registers: [UInt16?]) -> PointLocation? {
        guard let i = definition.group.pointIndex(named: path.point) else { return nil }
        let p = definition.group.points[i]
        let scale: ScaleLocation =
            switch p.scaleFactor {
            case nil: .none
            case .constant(let n): .constant(n)
            case .point(_, let ref?): .register(offset: ref.offset)
            case .point(_, nil): .none
            }
        return PointLocation(offset: definition.group.pointOffsets[i], size: p.size, scale: scale)
    }
}

public enum SetpointValue: Sendable, Equatable, CustomStringConvertible {
    case number(ExactDecimal)
    case symbol(String)
    public var description: String {
        switch self {
        case .number(let d): d.description
        case .symbol(let s): s
        }
    }
}

public enum SetpointError: Error, Equatable {
    case outOfRange(String)
    case notRepresentable(String)
    case precondition(String)
}

extension ExactDecimal {
    public init?(parsing text: some StringProtocol) {
        guard let v = Int64(text) else { return nil }
        self.init(v, exponent: 0)
    }
}

public enum SetpointEncoding {
    public static func encode(_ value: SetpointValue, point: PointDefinition, scaleFactor: Int?) throws(SetpointError) -> [UInt16] {
        guard case .number(let d) = value, d.exponent == 0, !d.negative else { throw .outOfRange("stub") }
        let sf = scaleFactor ?? 0
        var m = d.magnitude
        for _ in 0..<max(0, sf) {
            guard m % 10 == 0 else { throw .notRepresentable("\(d) at sf \(sf)") }
            m /= 10
        }
        guard m < 0xFFFF else { throw .outOfRange("\(d)") }
        return [UInt16(m)]
    }
    public static func decode(_ registers: [UInt16], point: PointDefinition, scaleFactor: Int?) -> SetpointValue? {
        guard let r = registers.first, r != 0xFFFF else { return nil }
        return .number(ExactDecimal(Int64(r), exponent: scaleFactor ?? 0))
    }
    public static func scaleFactor(register: UInt16) -> Int? {
        let v = Int(Int16(bitPattern: register))
        return (-10...10).contains(v) ? v : nil
    }
}

public struct VendorWriteTarget: Sendable {
    public let address: Int
    public let size: Int
    public func encode(_ value: SetpointValue, point: PointDefinition) throws(SetpointError) -> [UInt16] {
        try SetpointEncoding.encode(value, point: point, scaleFactor: 0)
    }
    public func decode(_ registers: [UInt16]) -> SetpointValue? { nil }
}

public struct ControlSettings: Sendable, Equatable {
    public var socketPath: String
    public var socketMode: mode_t
    public var auditPath: String
    public var maxTTL: Duration
    public init(socketPath: String, socketMode: mode_t = 0o600, auditPath: String, maxTTL: Duration = .seconds(300)) {
        self.socketPath = socketPath
        self.socketMode = socketMode
        self.auditPath = auditPath
        self.maxTTL = maxTTL
    }
}

public struct AllowedPoint: Sendable {
    public let path: PointPath
    public let definition: PointDefinition
    public let model: ModelDefinition
    public let min: ExactDecimal?
    public let max: ExactDecimal?
    public let values: [String]?
    public let revert: SetpointValue?
    public let minInterval: Duration?
    public let vendor: VendorWriteTarget?
}

public struct DeviceControl: Sendable {
    public var allow: [AllowedPoint]
    public var heartbeat: PointPath?
    public var heartbeatDefinition: PointDefinition?
    public var export: Bool
    public var writeFunction: WriteFunction
    public var settle: Duration
    public func allowed(_ path: PointPath) -> AllowedPoint? { allow.first { $0.path == path } }
}

extension RegisterReader {
    public func write(unit: Int, address: Int, registers: [UInt16], function: WriteFunction, timeout: Duration?) async throws(ModbusError) {
        throw ModbusError(.exception(1), operation: "write registers", unit: unit, address: address)
    }
}

extension ExactDecimal: Comparable {
    public static func < (a: ExactDecimal, b: ExactDecimal) -> Bool { a.doubleValue < b.doubleValue }
}

public enum ServerWriteReply: Sendable, Equatable {
    case written
    case exception(UInt8)
}

public protocol ModbusWriteHandler: Sendable {
    func write(unit: UInt8, function: WriteFunction, address: Int, registers: [UInt16], peer: String) async -> ServerWriteReply
}
