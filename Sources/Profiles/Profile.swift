import ModbusCore
import SunSpec

/// A declarative map of a vendor's (non-SunSpec) register table onto SunSpec models.
public struct Profile: Sendable {
    /// Short name (`sungrow-sh`): readings carry `"source":"profile:NAME"`.
    public var name: String
    /// Vendor and product, as documented.
    public var vendor: String
    public var product: String
    /// The public document the register facts come from.
    public var source: String
    /// Free notes.
    public var notes: String?
    /// Defaults for reading the device.
    public var defaults: ProfileDefaults
    /// Model 1's points (Mn, Md, Opt, Vr, SN...): constants.
    public var identity: [String: String]
    /// The SunSpec models filled, in the order they appear on the exported map.
    public var models: [MappedModel]
    /// Where the profile was loaded from (file path), for messages.
    public var file: String
}

/// How the vendor's registers are read.
public struct ProfileDefaults: Sendable, Equatable {
    /// Unit id (a device's config may override it).
    public var unit: Int = 1
    /// Holding (function 3) or input (function 4) registers.
    public var function: RegisterKind = .holding
    /// Word order of values of more than one register.
    public var wordOrder: WordOrder = .highFirst
    /// Most registers per read.
    public var maxRegisters: Int = 125
    /// Fixed read blocks the vendor needs (when given, exactly these are read).
    public var blocks: [ReadBlock] = []
    /// Largest run of unused registers a read may bridge (vendors refusing reads over gaps: 0).
    public var maxGap: Int = 16
}

/// Order of the 16-bit words of a 32- or 64-bit value.
public enum WordOrder: String, Sendable, Equatable {
    /// Most significant word first (big-endian; Modbus custom).
    case highFirst = "high_first"
    /// Least significant word first (Sungrow, SolarEdge floats).
    case lowFirst = "low_first"
}

/// A block of registers read in one request.
public struct ReadBlock: Sendable, Equatable, Hashable {
    /// First register (0-based protocol address).
    public var start: Int
    /// Registers.
    public var count: Int
    /// Function.
    public var function: RegisterKind

    /// Creates a block.
    public init(start: Int, count: Int, function: RegisterKind) {
        self.start = start
        self.count = count
        self.function = function
    }
}

/// One SunSpec model filled from vendor registers.
public struct MappedModel: Sendable {
    /// The model's definition.
    public var definition: ModelDefinition
    /// Sources of the top-level points, by SunSpec point name.
    public var points: [String: PointSource]
    /// Sources of repeating groups' instances, by group name (one dictionary per repeat).
    public var groups: [String: [[String: PointSource]]]
}

/// Where a SunSpec point's value comes from.
public enum PointSource: Sendable, Equatable {
    /// Not implemented on this device (the point is published as null).
    case notImplemented
    /// A constant (a nameplate value the vendor does not expose).
    case constant(ConstantValue)
    /// A vendor register.
    case register(VendorRegister)
    /// Bits of vendor registers set bits of a SunSpec bitfield.
    case bits([BitSource])
}

/// A constant value.
public enum ConstantValue: Sendable, Equatable {
    case number(Double)
    case text(String)
}

/// A value read from vendor registers and converted to SunSpec units.
public struct VendorRegister: Sendable, Equatable {
    /// First register (0-based protocol address).
    public var address: Int
    /// Vendor type.
    public var type: VendorType
    /// Registers of a string.
    public var size: Int
    /// Function.
    public var function: RegisterKind
    /// Word order.
    public var wordOrder: WordOrder
    /// Multiplier to SunSpec units (0.1 for a value in tenths).
    public var scale: Double
    /// Added after scaling.
    public var offset: Double
    /// Negate (vendors disagree on whether charging is positive).
    public var invert: Bool
    /// Raw values that mean "no value".
    public var sentinels: [Int64]
    /// Vendor value to SunSpec value (enums).
    public var map: [Int64: Int64]
    /// First set vendor bit (by bit number) to SunSpec value (a vendor bitfield onto an enum).
    public var flags: [(bit: Int, value: Int64)]
    /// SunSpec value by the sign of the raw value (ChaSt from a power register).
    public var sign: SignMap?
    /// SunSpec value when `map`/`flags` match nothing; nil: the point is null.
    public var otherwise: Int64?
    /// Decimal places to keep (for floats): the exported scale factor's precision.
    public var precision: Int?
    /// More registers read the same way, combined with the first by `aggregate` (the hottest of
    /// several packs' temperatures: `max: [38452, 38454, 38456]`).
    public var alsoAt: [Int] = []
    /// How `alsoAt` values combine with the first; readings that are null are left out.
    public var aggregate: Aggregate?

    public static func == (a: VendorRegister, b: VendorRegister) -> Bool {
        a.address == b.address && a.type == b.type && a.size == b.size && a.function == b.function && a.wordOrder == b.wordOrder
            && a.scale == b.scale && a.offset == b.offset && a.invert == b.invert && a.sentinels == b.sentinels && a.map == b.map
            && a.flags.map(\.bit) == b.flags.map(\.bit) && a.flags.map(\.value) == b.flags.map(\.value) && a.sign == b.sign
            && a.otherwise == b.otherwise && a.precision == b.precision && a.alsoAt == b.alsoAt && a.aggregate == b.aggregate
    }

    /// The registers read (the first address's).
    public var registers: Range<Int> { address..<(address + size) }

    /// Every register range read, `alsoAt` included.
    public var allRegisters: [Range<Int>] { ([address] + alsoAt).map { $0..<($0 + size) } }
}

/// How several registers combine into one value.
public enum Aggregate: String, Sendable, Equatable {
    case max, min, sum
}

/// SunSpec values by the sign of a raw value.
public struct SignMap: Sendable, Equatable {
    public var positive: Int64
    public var negative: Int64
    public var zero: Int64
}

/// One vendor bit onto one SunSpec bit.
public struct BitSource: Sendable, Equatable {
    /// The vendor register (0-based).
    public var address: Int
    /// Its function.
    public var function: RegisterKind
    /// Vendor type (u16 or u32 bitfield).
    public var type: VendorType
    /// Word order of a u32.
    public var wordOrder: WordOrder
    /// Bit of the vendor value (0 = least significant).
    public var bit: Int
    /// For enum-like alarm registers: the bit is set when the register equals one of these values
    /// (e.g. Victron alarms: 2 = alarm) instead of when vendor bit `bit` is set.
    public var whenEquals: [Int64]
    /// SunSpec bit to set.
    public var to: Int

    /// The registers read.
    public var registers: Range<Int> { address..<(address + type.registerCount(size: 1)) }
}

/// Vendor value types.
public enum VendorType: String, Sendable, Equatable, CaseIterable {
    case u16, s16, u32, s32, u64, s64, f32, f64, string

    /// Registers occupied (`size` for strings).
    public func registerCount(size: Int) -> Int {
        switch self {
        case .u16, .s16: 1
        case .u32, .s32, .f32: 2
        case .u64, .s64, .f64: 4
        case .string: size
        }
    }

    /// Whether the raw value is an integer.
    public var isInteger: Bool { self != .f32 && self != .f64 && self != .string }
}
