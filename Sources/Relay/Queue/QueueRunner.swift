import Delivery
import Foundation
import Logging
import MailQueue
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import SMTPCore

/// Takes due recipients from the queue, groups them by next hop, and delivers them:
/// one session per group of up to `messages_per_connection` messages, at most
/// `concurrency` sessions at once and `concurrency_per_domain` per hop. Newly
/// accepted mail is tried at once (``wake()``); deferred mail when it is due.
final class QueueRunner: Service {
    private let spool: Spool
    private let configuration: Configuration
    private let client: DeliveryClient
    private let router: Router
    private let logger: Logger
    private let wakeUps: AsyncStream<Void>
    private let wakeUpContinuation: AsyncStream<Void>.Continuation
    private let timer = NIOLockedValueBox<Task<Void, Never>?>(nil)
    /// How long to sleep at most when nothing is due (new mail wakes the runner).
    static let idlePoll = Duration.seconds(30)

    init(spool: Spool, configuration: Configuration, client: DeliveryClient, logger: Logger) throws(ConfigError) {
        self.spool = spool
        self.configuration = configuration
        self.client = client
        self.router = try Router(configuration: configuration)
        self.logger = logger
        (wakeUps, wakeUpContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// New mail is in the queue: look now.
    func wake() {
        wakeUpContinuation.yield()
    }

    func run() async throws {
        if configuration.delivery.mode == .mx {
            logger.notice("delivery_limited", metadata: [
                "reason": "MX lookup is not in this version: only domains with a [[delivery.domain]] route are delivered",
            ])
        }
        wake()
        await withGracefulShutdownHandler {
            // Each wake-up (new mail, a retry falling due) is one delivery pass;
            // after it, a timer is set for the next retry.
            for await _ in self.wakeUps {
                await self.deliverDueMail()
                self.setTimer()
            }
            self.timer.withLockedValue { $0?.cancel() }
        } onGracefulShutdown: {
            self.wakeUpContinuation.finish()
        }
    }

    /// Wakes the runner when the next deferred recipient is due (or after the idle
    /// poll), replacing the previous timer.
    private func setTimer() {
        let wait = nextWait()
        let task = Task { [weak self] in
            guard (try? await Task.sleep(for: wait)) != nil else { return }
            self?.wake()
        }
        timer.withLockedValue { previous in
            previous?.cancel()
            previous = task
        }
    }

    private func nextWait() -> Duration {
        guard let next = try? spool.nextAttempt(), let date = Timestamp.parse(next) else { return Self.idlePoll }
        // At least a second: a due recipient that cannot be routed must not spin.
        let seconds = max(1, min(date.timeIntervalSinceNow, 30))
        return .milliseconds(Int64(seconds * 1000))
    }

    /// One pass: everything due now, in sessions, waiting for all of them.
    private func deliverDueMail() async {
        let jobs: [DeliveryJob]
        do {
            jobs = try spool.dueJobs(now: Timestamp.now(), limit: 10_000, excluded: [])
        } catch {
            logger.error("queue_error", metadata: ["error": "\(error)"])
            return
        }
        let sessions = router.sessions(for: jobs, messagesPerConnection: configuration.delivery.messagesPerConnection,
                                       perHop: configuration.delivery.concurrencyPerDomain)
        guard !sessions.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for session in sessions {
                if running >= configuration.delivery.concurrency {
                    await group.next()
                    running -= 1
                }
                group.addTask { await self.deliver(session) }
                running += 1
            }
        }
    }

    private func deliver(_ session: Router.Session) async {
        let started = Date()
        let messages = session.jobs.map { job in
            OutboundMessage(transaction: Router.transaction(for: job), path: spool.messagePath(job.messageID))
        }
        let report: SessionReport
        do {
            report = try await client.deliver(messages, host: session.hop.host, port: session.hop.port,
                                              configuration: session.client).get()
        } catch {
            return
        }
        for (index, job) in session.jobs.enumerated() {
            record(job, results: report.results[index], report: report, hop: session.hop, started: started)
        }
    }

    /// Turns one message's results into per-recipient outcomes, logs them, saves them.
    private func record(_ job: DeliveryJob, results: [SMTPClientStateMachine.RecipientResult]?, report: SessionReport,
                        hop: Configuration.Delivery.Hop, started: Date) {
        var outcomes: [(rowID: Int64, outcome: DeliveryOutcome)] = []
        var lines: [(String, Logger.Metadata)] = []
        var failures: [DeliveryStatusNotification.RecipientStatus] = []
        let expired = (Timestamp.parse(job.receivedAt).map { -$0.timeIntervalSinceNow } ?? 0) > Double(configuration.delivery.maximumLifetime)
        for (index, recipient) in job.recipients.enumerated() {
            let outcome: DeliveryOutcome
            var event: String
            switch results?[index] {
            case .accepted(let reply)?:
                outcome = .delivered(reply: "\(reply)")
                event = "delivered"
            case .permanentFailure(let reply)?:
                outcome = .bounced(reply: "\(reply)")
                event = "bounced"
            case .transientFailure(let reply)?:
                (outcome, event) = deferral("\(reply)", attempts: recipient.attempts, expired: expired)
            case nil:
                let reason = report.failureReply.map { "\($0)" } ?? report.failure ?? "not attempted"
                (outcome, event) = deferral(reason, attempts: recipient.attempts, expired: expired)
            }
            outcomes.append((recipient.rowID, outcome))
            if case .bounced(let reply) = outcome, recipient.notify.map({ $0.contains("FAILURE") }) ?? true {
                failures.append(.init(address: recipient.address, originalRecipient: recipient.originalRecipient,
                                      action: "failed", status: DeliveryStatusNotification.status(fromReply: reply, permanent: true),
                                      remoteMTA: event == "bounced" ? hop.description : nil, diagnostic: reply))
            }
            var metadata: Logger.Metadata = [
                "queue_id": "\(job.messageID)", "to": "<\(recipient.address)>", "relay": "\(hop)",
                "tls": "\(report.tls ?? "none")", "attempt": "\(recipient.attempts + 1)",
                "delay": "\(String(format: "%.1f", Date().timeIntervalSince(Timestamp.parse(job.receivedAt) ?? started)))s",
            ]
            switch outcome {
            case .delivered(let reply), .bounced(let reply): metadata["reply"] = "\(reply)"
            case .deferred(let reply, let next): metadata["reply"] = "\(reply)"; metadata["next_attempt"] = "\(next)"
            }
            lines.append((event, metadata))
        }
        // The sender's notice is queued before the outcome is saved: a crash in
        // between sends it twice, never not at all.
        queueBounce(for: job, failures: failures)
        // Saved first, logged after: a log line never claims what the queue does not hold.
        do {
            try spool.record(messageID: job.messageID, outcomes: outcomes)
        } catch {
            logger.error("queue_error", metadata: ["queue_id": "\(job.messageID)", "error": "\(error)"])
            return
        }
        for (event, metadata) in lines {
            logger.log(level: event == "delivered" ? .info : .notice, "\(event)", metadata: metadata)
        }
    }

    /// Queues an RFC 3464 report to the sender about recipients given up on (never
    /// for the null sender, so reports themselves never bounce: RFC 5321 §4.5.5).
    private func queueBounce(for job: DeliveryJob, failures: [DeliveryStatusNotification.RecipientStatus]) {
        guard !job.sender.isEmpty, !failures.isEmpty else { return }
        guard let original = spool.messageText(job.messageID) else {
            logger.error("queue_error", metadata: ["queue_id": "\(job.messageID)", "error": "message file missing for the bounce"])
            return
        }
        let hostname = configuration.hostname
        var generator = SystemRandomNumberGenerator()
        let unique = String(generator.next() as UInt64, radix: 36) + String(generator.next() as UInt64, radix: 36)
        let report = DeliveryStatusNotification(
            reportingHost: hostname, job: job, recipients: failures,
            arrivalDate: MessageContextFactory.rfc5322Date(Timestamp.parse(job.receivedAt) ?? Date()),
            date: MessageContextFactory.rfc5322Date(Date()), messageID: "<\(unique)@\(hostname)>", boundary: "=_veil_dsn_\(unique)")
        var envelope = Envelope(sender: .null, parameters: MailParameters(), clientName: hostname,
                                authenticatedUser: nil, protocolName: "ESMTP")
        envelope.recipients = [Recipient(mailbox: Router.mailbox(job.sender), parameters: RecipientParameters())]
        do {
            let id = try spool.enqueue(report.render(original: original), envelope: envelope, receivedAt: Timestamp.now())
            logger.notice("bounce_queued", metadata: ["queue_id": "\(id)", "original_queue_id": "\(job.messageID)",
                                                      "to": "<\(job.sender)>", "recipients": "\(failures.count)"])
            wake()
        } catch {
            logger.error("queue_error", metadata: ["queue_id": "\(job.messageID)", "error": "bounce not queued: \(error)"])
        }
    }

    /// A temporary failure: retried on the schedule (with up to 10 % jitter), or
    /// given up once the message is older than `max_lifetime`.
    private func deferral(_ reply: String, attempts: Int, expired: Bool) -> (DeliveryOutcome, String) {
        if expired { return (.bounced(reply: "expired after max_lifetime; last: \(reply)"), "expired") }
        let schedule = configuration.delivery.retry
        let base = Double(schedule[min(attempts, schedule.count - 1)])
        let next = Date().addingTimeInterval(base * Double.random(in: 1.0...1.1))
        return (.deferred(reply: reply, nextAttempt: Timestamp.format(next)), "deferred")
    }
}
