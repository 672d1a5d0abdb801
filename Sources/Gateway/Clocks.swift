import Foundation

/// The time the gateway keeps: a clock it schedules polls, backoff and retries on, and the wall time
/// it stamps records with. `real` in production; tests pass a clock they drive.
public struct Clocks: Sendable {
    /// Time since the clock's start.
    public let now: @Sendable () -> Duration
    /// Waits until `now()` reaches the deadline (throws when the task is cancelled).
    public let sleepUntil: @Sendable (Duration) async throws -> Void
    /// The time of day records are stamped with.
    public let wall: @Sendable () -> Date

    /// Time on `clock`, and the wall time from `wall`.
    public init<C: Clock<Duration>>(_ clock: C, wall: @escaping @Sendable () -> Date = { Date() }) {
        let start = clock.now
        now = { start.duration(to: clock.now) }
        sleepUntil = { deadline in try await clock.sleep(until: start.advanced(by: deadline), tolerance: nil) }
        self.wall = wall
    }

    /// The continuous clock and the system's wall time.
    public static let real = Clocks(ContinuousClock())

    /// Waits for `duration` (throws when the task is cancelled).
    public func sleep(for duration: Duration) async throws {
        try await sleepUntil(now() + duration)
    }
}
