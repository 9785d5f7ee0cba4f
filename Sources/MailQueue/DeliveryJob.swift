import Foundation
import SMTPCore

/// Recipients of one message that are due for a delivery attempt, with what the
/// SMTP client needs to send them.
public struct DeliveryJob: Sendable, Equatable {
    public struct Recipient: Sendable, Equatable {
        /// The recipient's row in the index.
        public var rowID: Int64
        public var address: String
        public var notify: Notify?
        public var originalRecipient: String?
        /// Attempts made so far.
        public var attempts: Int

        /// The domain of the address (lower-cased when it was accepted).
        public var domain: String {
            address.lastIndex(of: "@").map { String(address[address.index(after: $0)...]) } ?? ""
        }
    }

    public var queueID: String
    /// Empty for the null reverse-path.
    public var sender: String
    public var size: Int
    public var body: BodyType?
    public var smtpUTF8: Bool
    public var ret: DSNReturn?
    public var envelopeID: String?
    /// When the message was accepted.
    public var receivedAt: Date
    public var recipients: [Recipient]

    /// The same message with other recipients (a share of them for one next hop).
    public func with(recipients: [Recipient]) -> DeliveryJob {
        var copy = self
        copy.recipients = recipients
        return copy
    }
}

/// The outcome of one attempt for one recipient.
public enum DeliveryOutcome: Sendable, Equatable {
    case delivered(reply: String)
    /// Tried again at `nextAttempt`.
    case deferred(reply: String, nextAttempt: Date)
    /// Final failure: the sender gets a bounce.
    case bounced(reply: String)
}

extension DeliveryOutcome {
    /// The recipient state it leads to.
    var state: RecipientState {
        switch self {
        case .delivered: return .delivered
        case .deferred: return .deferred
        case .bounced: return .bounced
        }
    }

    var reply: String {
        switch self {
        case .delivered(let reply), .deferred(let reply, _), .bounced(let reply): return reply
        }
    }
}

/// One attempt's outcomes for one message, as the queue saves them.
struct AttemptRecord: Sendable {
    var queueID: String
    var outcomes: [(rowID: Int64, outcome: DeliveryOutcome)]
    var time: Date
    var relay: String
}
