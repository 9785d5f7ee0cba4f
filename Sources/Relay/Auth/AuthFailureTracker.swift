import NIOConcurrencyHelpers
import NIOCore

/// Counts AUTH failures per client (``ClientKey``: an IPv4 address, an IPv6 /64 by
/// default): after `maximumFailures` within `window`, the client is locked out for
/// `lockout`, whatever it sends (even the right password).
///
/// Attempts still being checked count too: a client has at most as many checks in
/// flight as it has failures left before a lockout. Its further attempts wait (up
/// to `maximumWaiting` of them) and are let through as checks end, or refused
/// together once a lockout starts. So guesses sent in parallel on many connections
/// get no more checks per lockout than guesses sent one after another, while an
/// MTA that authenticates on 20 connections at once only waits a few hash times.
///
/// Bounded and O(1) per call: each entry holds counts and the start of its window
/// (a fixed window that starts at the first failure), not a list of timestamps. The
/// entries sit in a queue in the order they were last looked at; every new attempt
/// examines the `pruneStep` entries at its front, drops those whose window and
/// lockout are over and moves the others to the back. At `maximumEntries` the entry
/// at the front (the one looked at longest ago) is dropped to make room: all an
/// attacker gains by flooding the table is that a lockout may be forgotten early.
final class AuthFailureTracker: Sendable {
    static let defaultMaximumEntries = 100_000
    static let pruneStep = 2
    static let maximumWaiting = 100

    /// Whether an AUTH attempt may be checked.
    enum Admission: Equatable, Sendable {
        case allowed
        case lockedOut
        /// `maximumWaiting` attempts of this client wait already (or its entry was
        /// dropped while it waited).
        case tooManyWaiting
    }

    typealias Waiter = @Sendable (Admission) -> Void

    private struct Entry {
        var windowStart: NIODeadline
        var failures = 0
        var lockedUntil: NIODeadline?
        var inFlight = 0
        var waiting = CircularBuffer<Waiter>()
    }

    private struct Table {
        var entries: [ClientKey: Entry] = [:]
        /// Every key in `entries` exactly once.
        var order = CircularBuffer<ClientKey>()
    }

    private let maximumFailures: Int
    private let window: TimeAmount
    private let lockout: TimeAmount
    private let ipv6PrefixLength: Int
    private let maximumEntries: Int
    private let table = NIOLockedValueBox(Table())

    init(maximumFailures: Int, window: TimeAmount, lockout: TimeAmount,
         ipv6PrefixLength: Int = ClientKey.defaultIPv6Prefix, maximumEntries: Int = AuthFailureTracker.defaultMaximumEntries) {
        self.maximumFailures = maximumFailures
        self.window = window
        self.lockout = lockout
        self.ipv6PrefixLength = ipv6PrefixLength
        self.maximumEntries = max(1, maximumEntries)
    }

    /// The number of clients remembered (for tests and the log).
    var entryCount: Int { table.withLockedValue { $0.entries.count } }

    func key(_ address: String) -> ClientKey { ClientKey(address: address, ipv6PrefixLength: ipv6PrefixLength) }

    /// Read only: whether the client is locked out now.
    func isLockedOut(_ address: String, now: NIODeadline = .now()) -> Bool {
        let key = key(address)
        return table.withLockedValue { table in
            guard let until = table.entries[key]?.lockedUntil else { return false }
            return until > now
        }
    }

    /// An attempt starts. `admitted` is called once, now or when a check of the same
    /// client ends; after `.allowed` the attempt must be ended with
    /// ``finish(_:failed:now:)``.
    func begin(_ address: String, now: NIODeadline = .now(), admitted: @escaping Waiter) {
        let key = key(address)
        var dropped: [Waiter] = []
        let admission: Admission? = table.withLockedValue { table in
            prune(&table, now: now)
            var entry = table.entries[key] ?? newEntry(key, in: &table, now: now, dropped: &dropped)
            defer { table.entries[key] = entry }
            if let until = entry.lockedUntil {
                if until > now { return .lockedOut }
                entry.lockedUntil = nil
                entry.failures = 0
            }
            if entry.failures > 0 && now - entry.windowStart >= window { entry.failures = 0 }
            if entry.failures + entry.inFlight < maximumFailures {
                entry.inFlight += 1
                return .allowed
            }
            guard entry.waiting.count < Self.maximumWaiting else { return .tooManyWaiting }
            entry.waiting.append(admitted)
            return nil
        }
        dropped.forEach { $0(.tooManyWaiting) }
        if let admission { admitted(admission) }
    }

    /// An attempt admitted by ``begin(_:now:admitted:)`` is over; true when its
    /// failure starts a lockout. Lets waiting attempts through, or refuses them all
    /// when the lockout starts.
    @discardableResult
    func finish(_ address: String, failed: Bool, now: NIODeadline = .now()) -> Bool {
        let key = key(address)
        var released: [(Waiter, Admission)] = []
        var dropped: [Waiter] = []
        let lockedNow = table.withLockedValue { table -> Bool in
            // The entry may have been dropped to make room meanwhile.
            var entry = table.entries[key] ?? newEntry(key, in: &table, now: now, dropped: &dropped)
            defer { table.entries[key] = entry }
            entry.inFlight = max(0, entry.inFlight - 1)
            var lockedNow = false
            // Attempts that were in flight when the lockout started do not extend it.
            if failed && entry.lockedUntil == nil {
                if entry.failures == 0 || now - entry.windowStart >= window {
                    entry.windowStart = now
                    entry.failures = 0
                }
                entry.failures += 1
                if entry.failures >= maximumFailures {
                    entry.lockedUntil = now + lockout
                    entry.failures = 0
                    lockedNow = true
                }
            }
            if entry.lockedUntil != nil {
                while let waiter = entry.waiting.popFirst() { released.append((waiter, .lockedOut)) }
            }
            while entry.failures + entry.inFlight < maximumFailures, let waiter = entry.waiting.popFirst() {
                entry.inFlight += 1
                released.append((waiter, .allowed))
            }
            return lockedNow
        }
        dropped.forEach { $0(.tooManyWaiting) }
        for (waiter, admission) in released { waiter(admission) }
        return lockedNow
    }

    /// A fresh entry for `key`, at the back of the queue. When the table is full the
    /// oldest entries go; their waiting attempts are handed back in `dropped`.
    private func newEntry(_ key: ClientKey, in table: inout Table, now: NIODeadline, dropped: inout [Waiter]) -> Entry {
        while table.entries.count >= maximumEntries, let oldest = table.order.popFirst() {
            if let entry = table.entries.removeValue(forKey: oldest) { dropped += entry.waiting }
        }
        table.order.append(key)
        return Entry(windowStart: now)
    }

    /// Looks at a few entries at the front of the queue: drops the finished ones,
    /// moves the others to the back. An entry with attempts in flight stays.
    private func prune(_ table: inout Table, now: NIODeadline) {
        for _ in 0..<min(Self.pruneStep, table.order.count) {
            let key = table.order.removeFirst()
            guard let entry = table.entries[key] else { continue }
            let lockoutOver = entry.lockedUntil.map { $0 <= now } ?? true
            let windowOver = entry.failures == 0 || now - entry.windowStart >= window
            if entry.inFlight == 0 && lockoutOver && (entry.lockedUntil != nil || windowOver) {
                table.entries[key] = nil
            } else {
                table.order.append(key)
            }
        }
    }
}
