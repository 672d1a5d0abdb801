/// The registers of one model instance, starting at its ID register, with any that were not captured.
public struct RegisterWindow: Sendable {
    /// Register values (a slice of the image, not a copy); a missing register reads as 0 here and
    /// is flagged in `missing`. Index it from `values.startIndex`, or through `register(_:)`.
    public let values: ArraySlice<UInt16>
    /// `missing[i]` is true when register i was not captured; nil when every register is present.
    public let missing: [Bool]?

    /// A complete window.
    public init(_ values: [UInt16]) {
        self.values = values[...]
        self.missing = nil
    }

    /// A complete window over part of a larger array, without copying.
    public init(_ values: ArraySlice<UInt16>) {
        self.values = values
        self.missing = nil
    }

    /// Register `i` of the window, counted from 0.
    public func register(_ i: Int) -> UInt16 { values[values.startIndex + i] }

    /// A window with holes.
    public init(values: [UInt16], missing: [Bool]?) {
        precondition(missing == nil || missing!.count == values.count)
        self.values = values[...]
        self.missing = (missing?.contains(true) ?? false) ? missing : nil
    }

    /// Number of registers.
    public var count: Int { values.count }

    /// Number of registers that were not captured.
    public var missingCount: Int { missing?.lazy.filter { $0 }.count ?? 0 }
}
