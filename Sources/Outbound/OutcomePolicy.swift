import Foundation
import MailQueue
import SMTPCore

/// What happens to each recipient of one transaction, from the next hop's replies
/// (or the session's failure): delivered, deferred to a next attempt, bounced or
/// expired, and which of them the sender hears about (RFC 3461 §4, RFC 3464).
///
/// Pure: the time and the retry jitter come in as arguments.
public struct OutcomePolicy: Sendable {
    /// Seconds to wait after the 1st, 2nd, ... failed attempt; the last repeats.
    public var retrySchedule: [Int]
    /// Seconds after acceptance when a message is given up (`max_lifetime`).
    public var maximumLifetime: Int

    public init(retrySchedule: [Int], maximumLifetime: Int) {
        precondition(!retrySchedule.isEmpty, "an empty retry schedule")
        self.retrySchedule = retrySchedule
        self.maximumLifetime = maximumLifetime
    }

    /// The outcome of one attempt for one recipient; the name is the log event's.
    public enum Event: String, Sendable, Equatable {
        case delivered, deferred, bounced, expired
    }

    /// What becomes of one recipient.
    public struct Decision: Sendable, Equatable {
        public var rowID: Int64
        public var event: Event
        /// Set for `deferred`.
        public var nextAttempt: Date?
        /// What the server (or the session) said: the diagnostic of a report.
        public var said: String

        /// The reply stored and logged: what was said, with the reason for giving
        /// up in front when the message expired.
        public var reply: String {
            event == .expired ? "expired after max_lifetime; last: \(said)" : said
        }
        /// The recipient's part of a report to the sender, if it gets one.
        public var notice: DeliveryStatusNotification.RecipientStatus?
        /// For a failure with a notice: the retry it becomes when the report cannot
        /// be queued, since no recipient is given up without its report.
        public var retryIfUnreported: Date?
    }

    /// The decisions for `job`'s recipients, in order. `results` holds the next
    /// hop's reply per recipient, or is nil when the transaction did not get that
    /// far (then `sessionFailure` says why); `relay` is the hop as logged ("none"
    /// when there was none); `nextHopTakesDSN` when it offered DSN (RFC 3461 §5.2.2);
    /// `jitter` (1.0 to 1.1) spreads retries, one for the whole transaction, so that
    /// its recipients fall due together.
    public func decide(_ job: DeliveryJob, results: [SMTPClientStateMachine.RecipientResult]?,
                       sessionFailure: String, relay: String, nextHopTakesDSN: Bool,
                       now: Date, jitter: Double) -> [Decision] {
        let expired = now.timeIntervalSince(job.receivedAt) > Double(maximumLifetime)
        return job.recipients.enumerated().map { index, recipient in
            var decision: Decision
            switch results?[index] {
            case .accepted(let reply)?:
                decision = Decision(rowID: recipient.rowID, event: .delivered, said: "\(reply)")
            case .permanentFailure(let reply)?:
                decision = Decision(rowID: recipient.rowID, event: .bounced, said: "\(reply)")
            case .transientFailure(let reply)?:
                decision = deferral("\(reply)", rowID: recipient.rowID, attempts: recipient.attempts, expired: expired,
                                    now: now, jitter: jitter)
            case nil:
                decision = deferral(sessionFailure, rowID: recipient.rowID, attempts: recipient.attempts, expired: expired,
                                    now: now, jitter: jitter)
            }
            decision.notice = notice(for: decision, sender: job.sender, recipient: recipient, relay: relay, nextHopTakesDSN: nextHopTakesDSN)
            if decision.notice?.action == .failed {
                decision.retryIfUnreported = nextAttempt(attempts: recipient.attempts, now: now, jitter: jitter)
            }
            return decision
        }
    }

    /// A temporary failure: retried on the schedule, or given up once the message
    /// is older than `maximumLifetime`.
    private func deferral(_ said: String, rowID: Int64, attempts: Int, expired: Bool, now: Date, jitter: Double) -> Decision {
        if expired {
            return Decision(rowID: rowID, event: .expired, said: said)
        }
        return Decision(rowID: rowID, event: .deferred,
                        nextAttempt: nextAttempt(attempts: attempts, now: now, jitter: jitter), said: said)
    }

    private func nextAttempt(attempts: Int, now: Date, jitter: Double) -> Date {
        now.addingTimeInterval(Double(retrySchedule[min(attempts, retrySchedule.count - 1)]) * jitter)
    }

    /// RFC 3461 §4.1: failures are reported unless NOTIFY leaves FAILURE out; a
    /// success only when NOTIFY asks for it and the next hop cannot take the
    /// request over (§5.2.2: "relayed"). Never to the null sender (RFC 5321
    /// §4.5.5), so that reports never bounce.
    private func notice(for decision: Decision, sender: String, recipient: DeliveryJob.Recipient, relay: String,
                        nextHopTakesDSN: Bool) -> DeliveryStatusNotification.RecipientStatus? {
        guard !sender.isEmpty else { return nil }
        switch decision.event {
        case .delivered where !nextHopTakesDSN && recipient.notify?.contains(.success) == true:
            return .init(address: recipient.address, originalRecipient: recipient.originalRecipient, action: .relayed,
                         status: DeliveryStatusNotification.status(fromReply: decision.said, fallback: "2.0.0"),
                         remoteMTA: relay, diagnostic: decision.said)
        case .bounced, .expired:
            guard recipient.notify.map({ $0.contains(.failure) }) ?? true else { return nil }
            let expired = decision.event == .expired
            return .init(address: recipient.address, originalRecipient: recipient.originalRecipient, action: .failed,
                         status: DeliveryStatusNotification.status(fromReply: decision.said, fallback: expired ? "4.4.7" : "5.0.0"),
                         remoteMTA: !expired && relay != "none" ? relay : nil, diagnostic: decision.said)
        default:
            return nil
        }
    }
}

extension OutcomePolicy.Decision {
    init(rowID: Int64, event: OutcomePolicy.Event, nextAttempt: Date? = nil, said: String) {
        self.init(rowID: rowID, event: event, nextAttempt: nextAttempt, said: said, notice: nil, retryIfUnreported: nil)
    }
}
