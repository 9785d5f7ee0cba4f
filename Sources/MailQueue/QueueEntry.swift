import Foundation
/// A queued message as the administrator sees it (`veil queue list` and `show`).
public struct QueueEntry: Sendable, Equatable, Codable {
    public struct Attempt: Sendable, Equatable, Codable {
        /// RFC 3339.
        public var at: String
        /// A ``RecipientState`` as stored (shown as it is, even when edited by hand).
        public var state: String
        public var reply: String
        public var relay: String
    }

    public struct Recipient: Sendable, Equatable, Codable {
        public var address: String
        /// A ``RecipientState`` as stored (shown as it is, even when edited by hand).
        public var state: String
        public var attempts: Int
        /// RFC 3339; nil unless deferred.
        public var nextAttempt: String?
        public var lastReply: String?
        public var notify: String?
        public var originalRecipient: String?
        /// Oldest first; filled by ``Spool/entry(_:)`` only.
        public var history: [Attempt]

        enum CodingKeys: String, CodingKey {
            case address, state, attempts, nextAttempt = "next_attempt", lastReply = "last_reply", notify
            case originalRecipient = "orcpt", history
        }
    }

    public var id: String
    /// Empty for the null reverse-path.
    public var sender: String
    public var size: Int
    /// When it was accepted (RFC 3339).
    public var created: String
    public var held: Bool
    public var body: String?
    public var smtpUTF8: Bool
    public var ret: String?
    public var envelopeID: String?
    public var authenticatedUser: String?
    public var clientAddress: String
    public var clientName: String
    public var listener: String
    public var recipients: [Recipient]

    enum CodingKeys: String, CodingKey {
        case id, sender, size, created, held, body, smtpUTF8 = "smtputf8", ret, envelopeID = "envid"
        case authenticatedUser = "auth_user", clientAddress = "client_address", clientName = "client_helo", listener
        case recipients
    }
}

/// How much is queued: for systemd's status line and the metrics.
public struct QueueSummary: Sendable, Equatable {
    public var messages = 0
    public var held = 0
    /// When the oldest queued message was accepted.
    public var oldest: Date?
    /// Recipients by state.
    public var recipients: [RecipientState: Int] = [:]
}

/// What `quarantine/ID.json` holds: why the message was set aside, and its index
/// rows as they were (nil when even those could not be read).
struct QuarantineRecord: Codable {
    var reason: String
    var entry: QueueEntry?
}
