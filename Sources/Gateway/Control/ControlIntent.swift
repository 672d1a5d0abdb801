import SunSpec

/// Records a job's writes in the audit before they go to the device. The device's runner calls it
/// in the turn it writes, once the registers are known (every check passed), immediately before
/// the first write, with one planned write per point; false when a line could not be written, and
/// then nothing is written.
public typealias ControlIntent = @Sendable (_ planned: [PlannedWrite]) -> Bool

/// A write about to go to a device: its registers, and the value the latest poll had there.
public struct PlannedWrite: Sendable, Equatable {
    /// What is about to be written.
    public let write: WriteRecord
    /// The value the latest poll had.
    public let before: SetpointValue?

    /// Creates a planned write.
    public init(write: WriteRecord, before: SetpointValue?) {
        self.write = write
        self.before = before
    }
}
