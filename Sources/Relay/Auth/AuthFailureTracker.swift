import NIOConcurrencyHelpers
import NIOCore

/// Counts AUTH failures per client IP: after `maximumFailures` within `window`, the
/// IP is locked out for `lockout`, whatever it sends (even the right password).
final class AuthFailureTracker: Sendable {
    private struct Record {
        var failures: [NIODeadline] = []
        var lockedUntil: NIODeadline?
    }

    private let maximumFailures: Int
    private let window: TimeAmount
    private let lockout: TimeAmount
    private let records = NIOLockedValueBox([String: Record]())

    init(maximumFailures: Int, window: TimeAmount, lockout: TimeAmount) {
        self.maximumFailures = maximumFailures
        self.window = window
        self.lockout = lockout
    }

    func isLockedOut(_ address: String, now: NIODeadline = .now()) -> Bool {
        records.withLockedValue { records in
            guard let until = records[address]?.lockedUntil else { return false }
            if until > now { return true }
            records[address] = nil
            return false
        }
    }

    /// Records a failure; true when this failure starts a lockout.
    func recordFailure(_ address: String, now: NIODeadline = .now()) -> Bool {
        records.withLockedValue { records in
            var record = records[address] ?? Record()
            record.failures = record.failures.filter { now - $0 < window } + [now]
            var lockedNow = false
            if record.failures.count >= maximumFailures {
                record.lockedUntil = now + lockout
                record.failures = []
                lockedNow = true
            }
            records[address] = record
            // Keep the table small: forget clients with nothing left to remember.
            if records.count > 100_000 {
                records = records.filter { $0.value.lockedUntil.map { $0 > now } ?? !$0.value.failures.isEmpty }
            }
            return lockedNow
        }
    }
}
