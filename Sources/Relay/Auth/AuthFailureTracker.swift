import NIOConcurrencyHelpers
import NIOCore

/// Counts AUTH failures per client (``ClientKey``: an IPv4 address, an IPv6 /64 by
/// default): after `maximumFailures` within `window`, the client is locked out for
/// `lockout`, whatever it sends (even the right password).
///
/// Bounded and O(1) per call: each entry holds a count and the start of its window
/// (a fixed window that starts at the first failure), not a list of timestamps. The
/// entries sit in a queue in the order they were last looked at; every failure
/// examines the `pruneStep` entries at its front, drops those whose window and
/// lockout are over and moves the others to the back. At `maximumEntries` the entry
/// at the front (the one looked at longest ago) is dropped to make room: all an
/// attacker gains by flooding the table is that a lockout may be forgotten early.
final class AuthFailureTracker: Sendable {
    static let defaultMaximumEntries = 100_000
    static let pruneStep = 2

    private struct Entry {
        var windowStart: NIODeadline
        var failures: Int
        var lockedUntil: NIODeadline?
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

    func isLockedOut(_ address: String, now: NIODeadline = .now()) -> Bool {
        let key = key(address)
        return table.withLockedValue { table in
            guard let until = table.entries[key]?.lockedUntil else { return false }
            return until > now
        }
    }

    /// Records a failure; true when this failure starts a lockout.
    func recordFailure(_ address: String, now: NIODeadline = .now()) -> Bool {
        let key = key(address)
        return table.withLockedValue { table in
            prune(&table, now: now)
            var entry: Entry
            if let existing = table.entries[key] {
                entry = existing
            } else {
                while table.entries.count >= maximumEntries, let oldest = table.order.popFirst() {
                    table.entries[oldest] = nil
                }
                entry = Entry(windowStart: now, failures: 0)
                table.order.append(key)
            }
            if let until = entry.lockedUntil {
                // Attempts while locked out do not extend the lockout.
                if until > now {
                    table.entries[key] = entry
                    return false
                }
                entry.lockedUntil = nil
                entry.failures = 0
            }
            if now - entry.windowStart >= window {
                entry.windowStart = now
                entry.failures = 0
            }
            entry.failures += 1
            var lockedNow = false
            if entry.failures >= maximumFailures {
                entry.lockedUntil = now + lockout
                entry.failures = 0
                lockedNow = true
            }
            table.entries[key] = entry
            return lockedNow
        }
    }

    /// Looks at a few entries at the front of the queue: drops the finished ones,
    /// moves the others to the back.
    private func prune(_ table: inout Table, now: NIODeadline) {
        for _ in 0..<min(Self.pruneStep, table.order.count) {
            let key = table.order.removeFirst()
            guard let entry = table.entries[key] else { continue }
            let lockoutOver = entry.lockedUntil.map { $0 <= now } ?? true
            if lockoutOver && (entry.lockedUntil != nil || now - entry.windowStart >= window) {
                table.entries[key] = nil
            } else {
                table.order.append(key)
            }
        }
    }
}
