import Delivery
import Foundation
import LogEvents
import Logging
import MailQueue
import NIOConcurrencyHelpers
import NIOPosix
import SMTPCore

/// Saves what became of each recipient of a transaction (``OutcomePolicy``'s
/// decisions) with the report to the sender, then logs it: saved first, logged
/// after, so that a log line never claims what the queue does not hold.
struct OutcomeRecorder: Sendable {
    let spool: Spool
    let threadPool: NIOThreadPool
    let planner: NIOLockedValueBox<DeliveryPlanner>
    let settings: @Sendable () -> OutboundSettings
    let logger: Logger
    /// A report was queued: the runner has new mail.
    let onReportQueued: @Sendable () -> Void

    /// `results`: the next hop's reply per recipient, or nil when the transaction
    /// did not get that far (`report` says why). `relay` is the hop as logged,
    /// `tlsPolicy` the TLS policy its connection was held to.
    func record(_ job: DeliveryJob, results: [SMTPClientStateMachine.RecipientResult]?, report: SessionReport,
                tls: TLSSessionInfo?, tlsPolicy: String? = nil, nextHopTakesDSN: Bool = false, relay: String) async {
        let settings = self.settings()
        let decisions = settings.policy.decide(
            job, results: results, sessionFailure: report.failureReply.map { "\($0)" } ?? report.failure ?? "session ended",
            relay: relay, nextHopTakesDSN: nextHopTakesDSN, now: Date(), jitter: Double.random(in: 1.0...1.1))
        let delay = Date().timeIntervalSince(job.receivedAt)
        func line(_ recipient: DeliveryJob.Recipient, _ event: OutcomePolicy.Event, reply: String, nextAttempt: Date?) -> VeilEvent {
            let attempt = VeilEvent.DeliveryAttempt(queueID: job.queueID, recipient: recipient.address, relay: relay,
                                                    tls: tls.map(\.description), tlsPolicy: tlsPolicy,
                                                    attempt: recipient.attempts + 1,
                                                    delay: delay, reply: reply)
            switch event {
            case .delivered: return .delivered(attempt)
            // As the queue stores it (outcome(_:retryIfUnreported:)); always set for deferred.
            case .deferred: return .deferred(attempt, nextAttempt: nextAttempt ?? Date())
            case .bounced: return .bounced(attempt)
            case .expired: return .expired(attempt)
            }
        }
        var lines = zip(decisions, job.recipients).map { decision, recipient in
            line(recipient, decision.event, reply: decision.reply, nextAttempt: decision.nextAttempt)
        }
        // The sender's notice is queued before the outcome is saved: a crash in
        // between sends it twice, never not at all. Both block on fsync: thread pool.
        let spool = self.spool
        do {
            let reported = try await threadPool.runIfActive {
                // If the report cannot be queued (disk full), the failures it was
                // about are deferred instead: no recipient is bounced without one.
                let reported = self.queueReport(for: job, notices: decisions.compactMap(\.notice), hostname: settings.hostname)
                let outcomes = decisions.map { decision in
                    (rowID: decision.rowID, outcome: Self.outcome(decision, retryIfUnreported: !reported))
                }
                try spool.record(queueID: job.queueID, outcomes: outcomes, time: Date(), relay: relay)
                return reported
            }
            if !reported {
                for (index, (decision, recipient)) in zip(decisions, job.recipients).enumerated() {
                    guard let retry = decision.retryIfUnreported else { continue }
                    lines[index] = line(recipient, .deferred, reply: decision.said, nextAttempt: retry)
                }
            }
        } catch {
            planner.withLockedValue { $0.keepOut(job.queueID) }
            logger.log(.queueError(queueID: job.queueID, error: "results not saved, message held until restart: \(error)"))
        }
        for event in lines {
            logger.log(event)
            DeliveryMetrics.outcome(event.name)
        }
        if lines.contains(where: { if case .delivered = $0 { true } else { false } }) {
            DeliveryMetrics.sent(bytes: job.size, latency: Date().timeIntervalSince(job.receivedAt))
        }
    }

    /// Every recipient of `job` fails with `reply`, no next hop involved (DNS said
    /// no, or the administrator returned the message to its sender).
    func refuse(_ job: DeliveryJob, _ reply: SMTPReply) async {
        await record(job, results: job.recipients.map { _ in .permanentFailure(reply) }, report: .empty, tls: nil, relay: "none")
    }

    /// What the queue stores for a decision.
    private static func outcome(_ decision: OutcomePolicy.Decision, retryIfUnreported: Bool) -> DeliveryOutcome {
        if retryIfUnreported, let retry = decision.retryIfUnreported {
            return .deferred(reply: decision.said, nextAttempt: retry)
        }
        switch decision.event {
        case .delivered: return .delivered(reply: decision.reply)
        case .deferred: return .deferred(reply: decision.reply, nextAttempt: decision.nextAttempt ?? Date())
        case .bounced, .expired: return .bounced(reply: decision.reply)
        }
    }

    /// Queues an RFC 3464 report to the sender with the notices ``OutcomePolicy``
    /// decided on (recipients given up on, or relayed to a next hop without DSN).
    ///
    /// False when the report could not be queued (disk full, ...): the recipients
    /// it was about are then deferred, not bounced, and tried again later.
    private func queueReport(for job: DeliveryJob, notices: [DeliveryStatusNotification.RecipientStatus],
                             hostname: String) -> Bool {
        guard !notices.isEmpty else { return true }
        var generator = SystemRandomNumberGenerator()
        let unique = String(generator.next() as UInt64, radix: 36) + String(generator.next() as UInt64, radix: 36)
        let report = DeliveryStatusNotification(
            reportingHost: hostname, job: job, recipients: notices,
            arrivalDate: Timestamp.rfc5322(job.receivedAt),
            date: Timestamp.rfc5322(Date()), messageID: "<\(unique)@\(hostname)>", boundary: "=_veil_dsn_\(unique)")
        var envelope = Envelope(sender: .null, parameters: MailParameters(), clientName: hostname,
                                authenticatedUser: nil, protocolName: "ESMTP")
        envelope.recipients = [Recipient(mailbox: Router.mailbox(job.sender), parameters: RecipientParameters())]
        let bounce = notices.contains { $0.action == .failed }
        do {
            guard let id = try spool.enqueueReport(report, envelope: envelope, receivedAt: Date()) else {
                // Nothing to report on and nothing to send again: giving up is all that is left.
                logger.log(.queueError(queueID: job.queueID, error: "message file missing for the bounce"))
                return true
            }
            logger.log(bounce ? .bounceQueued(queueID: id, originalQueueID: job.queueID, to: job.sender, recipients: notices.count)
                              : .reportQueued(queueID: id, originalQueueID: job.queueID, to: job.sender, recipients: notices.count))
            onReportQueued()
            return true
        } catch {
            logger.log(.queueError(queueID: job.queueID,
                                   error: bounce ? "bounce not queued: \(error); the recipients stay deferred and are tried again"
                                                 : "report not queued: \(error)"))
            return !bounce
        }
    }
}
