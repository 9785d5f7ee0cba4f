import NIOConcurrencyHelpers
import NIOCore

/// The global AUTH rate, `[auth] max_attempts_per_second`: a token bucket that holds
/// one second's worth of attempts and refills continuously. Every attempt that
/// would be hashed takes a token; with none left the client gets 454 4.7.0 and no
/// hashing is done, so a flood from many addresses costs a bounded amount of CPU.
final class AuthRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: NIODeadline
    }

    private let perSecond: Double
    private let bucket: NIOLockedValueBox<Bucket>

    init(attemptsPerSecond: Int, now: NIODeadline = .now()) {
        perSecond = Double(attemptsPerSecond)
        bucket = NIOLockedValueBox(Bucket(tokens: Double(attemptsPerSecond), updated: now))
    }

    /// Takes a token; false when the rate is used up.
    func take(now: NIODeadline = .now()) -> Bool {
        bucket.withLockedValue { bucket in
            let elapsed = Double((now - bucket.updated).nanoseconds) / 1e9
            bucket.tokens = min(perSecond, bucket.tokens + max(0, elapsed) * perSecond)
            bucket.updated = now
            guard bucket.tokens >= 1 else { return false }
            bucket.tokens -= 1
            return true
        }
    }
}
