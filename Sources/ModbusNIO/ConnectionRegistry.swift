import Modbus
import NIOCore
import Synchronization

/// The live connections of one server, shared by its connections' handlers (which may run on
/// different event loops, hence the lock): the cap and eviction of `ConnectionTable`, and the
/// channels to close when the server stops.
final class ConnectionRegistry: Sendable {
    private struct State {
        var table: ConnectionTable<ObjectIdentifier>
        var channels: [ObjectIdentifier: any Channel] = [:]
        var stopping = false
    }

    private let state: Mutex<State>

    init(maxConnections: Int, evictableIdle: Duration) {
        state = Mutex(State(table: ConnectionTable(maxConnections: maxConnections, evictableIdle: TimeAmount(evictableIdle))))
    }

    /// Admits `channel` from `peer` at `now`, closing the connection it evicts; the event to report,
    /// if any, and whether it was admitted. Once the server stops, nothing is admitted (and nothing reported).
    func admit(_ channel: any Channel, peer: String, now: NIODeadline) -> (admitted: Bool, event: ServerConnectionEvent?) {
        let id = ObjectIdentifier(channel)
        let (decision, victim) = state.withLock { s -> (ConnectionTable<ObjectIdentifier>.Admission?, (any Channel)?) in
            guard !s.stopping else { return (nil, nil) }
            let admission = s.table.admit(id, peer: peer, now: now)
            if admission != .refused { s.channels[id] = channel }
            if case .admittedEvicting(let victim, _, _) = admission { return (admission, s.channels[victim]) }
            return (admission, nil)
        }
        victim?.close(promise: nil)
        switch decision {
        case nil: return (false, nil)
        case .admitted: return (true, nil)
        case .admittedEvicting(_, let victimPeer, let idle)?: return (true, .evicted(peer: victimPeer, idle: Duration(idle)))
        case .refused?: return (false, .refused(peer: peer))
        }
    }

    /// `channel` completed a request at `now`.
    func completedRequest(_ channel: any Channel, now: NIODeadline) {
        state.withLock { $0.table.completedRequest(ObjectIdentifier(channel), now: now) }
    }

    /// `channel` is closed.
    func remove(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        state.withLock { s in
            s.table.remove(id)
            s.channels[id] = nil
        }
    }

    /// Admits no one from now on; the connections open now, to close.
    func stop() -> [any Channel] {
        state.withLock { s in
            s.stopping = true
            return Array(s.channels.values)
        }
    }

    /// Connections that count towards the cap, for tests.
    var counted: Int { state.withLock { $0.table.counted } }
}
