/// The queue runner's bookkeeping, as a value driven by events: which messages are
/// in a running session, how many sessions run (in all and per next hop), which
/// messages are kept out of delivery, and which of the due sessions may start.
///
/// Pure and without locks: the runner keeps it in one lock and calls it from its
/// tasks. A pass reads the queue without the lock, so every decision that depends
/// on what it read checks `administrativeChanges` against the count the pass
/// started with: a `veil queue` command in between makes the pass start again.
public struct DeliveryPlanner: Sendable {
    /// `[delivery] concurrency`, `concurrency_per_domain`, `messages_per_connection`.
    public struct Limits: Sendable, Equatable {
        public var sessions: Int
        public var sessionsPerHop: Int
        public var messagesPerSession: Int

        public init(sessions: Int, sessionsPerHop: Int, messagesPerSession: Int) {
            self.sessions = sessions
            self.sessionsPerHop = sessionsPerHop
            self.messagesPerSession = messagesPerSession
        }
    }

    /// A session that could start: its next hop (as logged) and its messages' queue ids.
    public protocol Candidate {
        var hopName: String { get }
        var queueIDs: [String] { get }
    }

    /// Messages in a running session, or claimed by the administrator.
    private(set) var inFlight: Set<String> = []
    private var sessionsPerHop: [String: Int] = [:]
    private(set) var sessions = 0
    /// Messages whose results could not be saved: kept out until a restart, so that
    /// delivered recipients are not sent again every pass.
    private var unsaved: Set<String> = []
    /// SIGTERM: no new sessions, and running ones take no more messages.
    public private(set) var stopping = false
    /// Counts the administrator's claims and holds.
    public private(set) var administrativeChanges = 0

    public init() {}

    /// Messages a pass must not read as due.
    public var excluded: Set<String> { inFlight.union(unsaved) }

    /// How many more sessions may start.
    public func freeSessions(_ limits: Limits) -> Int {
        stopping ? 0 : max(0, limits.sessions - sessions)
    }

    /// Starts those of `candidates` that fit the limits and whose messages are not
    /// in flight, in order; marks their messages in flight. Nil when the queue
    /// changed by the administrator's hand since the pass began (`changes`).
    public mutating func start<Session: Candidate>(_ candidates: [Session], limits: Limits, changes: Int) -> [Session]? {
        guard administrativeChanges == changes else { return nil }
        guard !stopping else { return [] }
        var started: [Session] = []
        for session in candidates {
            guard sessions < limits.sessions, sessionsPerHop[session.hopName, default: 0] < limits.sessionsPerHop,
                  session.queueIDs.allSatisfy({ !inFlight.contains($0) })
            else { continue }
            sessions += 1
            sessionsPerHop[session.hopName, default: 0] += 1
            inFlight.formUnion(session.queueIDs)
            started.append(session)
        }
        return started
    }

    /// Claims more messages for a running session: of `pieces` (due transactions
    /// for its hop, in order), all pieces of up to `room` messages not in flight.
    /// Every piece of a claimed message (over 1000 recipients make several) rides
    /// along. Nothing when stopping or after an administrative change.
    public mutating func claimMore<Piece>(_ pieces: [Piece], queueID: (Piece) -> String, room: Int, changes: Int) -> [Piece] {
        guard !stopping, administrativeChanges == changes else { return [] }
        var claimed: [Piece] = []
        var claimedIDs = Set<String>()
        for piece in pieces {
            let id = queueID(piece)
            if claimedIDs.contains(id) {
                claimed.append(piece)
            } else if claimedIDs.count < room, inFlight.insert(id).inserted {
                claimedIDs.insert(id)
                claimed.append(piece)
            }
        }
        return claimed
    }

    /// A session ended: its messages (those it started with and those it claimed
    /// later) are free again.
    public mutating func sessionEnded(hopName: String, queueIDs: [String]) {
        sessions -= 1
        sessionsPerHop[hopName, default: 1] -= 1
        if sessionsPerHop[hopName] == 0 { sessionsPerHop[hopName] = nil }
        inFlight.subtract(queueIDs)
    }

    /// The results of a message could not be saved (or it could not be
    /// quarantined): out of delivery until a restart.
    public mutating func keepOut(_ queueID: String) {
        unsaved.insert(queueID)
    }

    /// The administrator takes a message out of delivery for a change; false while
    /// a session is sending it.
    public mutating func claim(_ queueID: String) -> Bool {
        administrativeChanges += 1
        return inFlight.insert(queueID).inserted
    }

    public mutating func unclaim(_ queueID: String) {
        inFlight.remove(queueID)
    }

    /// Messages were put on hold: a pass under way must read the queue again.
    public mutating func noteHold() {
        administrativeChanges += 1
    }

    /// SIGTERM; true the first time.
    public mutating func stop() -> Bool {
        defer { stopping = true }
        return !stopping
    }
}
