import NIOCore

/// The connections of one server and when each last completed a request: who is admitted at the cap,
/// and who makes room. Pure: the handlers pass the time in and close what it says.
///
/// At the cap, the connection idle longest is closed to admit a new one, provided it has been idle for
/// at least `evictableIdle` (a burst of new clients never throws out one that polls faster than that);
/// otherwise the new one is refused. An evicted connection no longer counts towards the cap, even
/// before it is gone.
struct ConnectionTable<ID: Hashable> {
    /// One admitted connection.
    struct Entry {
        /// `address:port` of the client.
        var peer: String
        /// When it last completed a request (or was admitted).
        var lastRequest: NIODeadline
        /// Whether it was picked to make room (it is being closed).
        var evicted = false
    }

    /// What `admit` decided.
    enum Admission: Equatable {
        /// Admitted: there was room.
        case admitted
        /// Admitted in place of `victim` (idle for `idle`), which is to be closed.
        case admittedEvicting(victim: ID, peer: String, idle: TimeAmount)
        /// Refused: at the cap, and no one idle long enough.
        case refused
    }

    /// Most connections served at once.
    let maxConnections: Int
    /// At the cap, a connection idle at least this long is closed to admit a new client.
    let evictableIdle: TimeAmount
    /// The connections, admitted and not yet removed.
    private(set) var entries: [ID: Entry] = [:]

    init(maxConnections: Int, evictableIdle: TimeAmount) {
        self.maxConnections = maxConnections
        self.evictableIdle = evictableIdle
    }

    /// The connections that count towards the cap.
    var counted: Int { entries.values.count { !$0.evicted } }

    /// Admits a new connection `id` from `peer` at `now`, if there is room or someone to make it.
    mutating func admit(_ id: ID, peer: String, now: NIODeadline) -> Admission {
        var admission = Admission.admitted
        if counted >= maxConnections {
            let candidates = entries.filter { !$0.value.evicted }.map { (id: $0.key, idle: now - $0.value.lastRequest) }
            guard let longest = candidates.max(by: { $0.idle < $1.idle }), longest.idle >= evictableIdle else { return .refused }
            entries[longest.id]?.evicted = true
            admission = .admittedEvicting(victim: longest.id, peer: entries[longest.id]?.peer ?? "?", idle: longest.idle)
        }
        entries[id] = Entry(peer: peer, lastRequest: now)
        return admission
    }

    /// `id` completed a request at `now`.
    mutating func completedRequest(_ id: ID, now: NIODeadline) {
        entries[id]?.lastRequest = now
    }

    /// `id` is gone.
    mutating func remove(_ id: ID) {
        entries[id] = nil
    }
}
