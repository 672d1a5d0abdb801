/// Hears what a `ModbusLink` does on its thread, for metrics kept outside the Modbus module.
///
/// Calls come on the link's own thread, one at a time, after the work they describe: they must be
/// quick and must not block (count, record, return).
public protocol LinkObserver: Sendable {
    /// The link opened its connection (or serial line); `first` is false when it had been open before
    /// (a reconnect).
    func linkOpened(first: Bool)
    /// One request ended: how long the link was busy with it (connecting, waiting for the line's
    /// silence, sending, receiving), and its error, if any.
    func requestEnded(busy: Duration, error: ModbusError?)
}
