/// Where a recipient stands in the queue, as the index stores it.
public enum RecipientState: String, Sendable, Equatable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Accepted, not tried yet.
    case queued
    /// Tried, failed temporarily; tried again at its next attempt.
    case deferred
    /// The next hop took it.
    case delivered
    /// Given up: refused for good, expired, or returned by the administrator.
    case bounced

    public var description: String { rawValue }
}
