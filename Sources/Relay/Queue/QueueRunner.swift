// Longer than 300 lines: the runner still holds its delivery loop, MX fallback and reports; it
// shrinks to wiring when it moves to Outbound behind DeliveryTransport (issue 14,
// docs/architecture.md).

import Delivery
import Foundation
import LogEvents
import Logging
import MailQueue
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Outbound
import ServiceLifecycle
import SMTPCore

/// Takes due recipients from the queue, groups them by next hop, and delivers them:
/// one session per group of up to `messages_per_connection` messages, at most
/// `concurrency` sessions at once and `concurrency_per_domain` per hop. It never
/// waits for running sessions before starting more: each wake-up (new mail, a retry
/// falling due, a session ending) starts what is due and not already in flight.
final class QueueRunner: Service {
    private let spool: Spool
    private let settings: LiveSettings
    /// Read once per use: a reload replaces them between passes.
    private var configuration: Configuration { settings.current.configuration }
    private var router: Router { settings.current.router }
    private let client: any DeliveryTransport
    /// Nil when every destination is a route or the smarthost.
    private let mxResolver: MXResolver?
    /// DNS lookups block for seconds when nameservers do not answer: they get
    /// threads of their own, so that queue writes and AUTH checks never wait.
    private let dnsThreadPool: NIOThreadPool
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let wakeUps: AsyncStream<Void>
    private let wakeUpContinuation: AsyncStream<Void>.Continuation
    /// Wakes the runner when the next retry falls due: a timer of the event loop,
    /// replaced after every pass (no task of its own).
    private let timer = NIOLockedValueBox<Scheduled<Void>?>(nil)
    private let eventLoop: any EventLoop

    private let planner = NIOLockedValueBox(DeliveryPlanner())
    private var limits: DeliveryPlanner.Limits {
        let delivery = configuration.delivery
        return .init(sessions: delivery.concurrency, sessionsPerHop: delivery.concurrencyPerDomain,
                     messagesPerSession: delivery.messagesPerConnection)
    }
    private var policy: OutcomePolicy {
        OutcomePolicy(retrySchedule: configuration.delivery.retry, maximumLifetime: configuration.delivery.maximumLifetime)
    }
    /// Seconds to wait at most when nothing is due (new mail wakes the runner).
    static let idlePoll = 30.0

    init(spool: Spool, settings: LiveSettings, client: any DeliveryTransport, resolver: DNSResolver?,
         threadPool: NIOThreadPool, dnsThreadPool: NIOThreadPool, eventLoop: any EventLoop, logger: Logger) {
        self.dnsThreadPool = dnsThreadPool
        self.eventLoop = eventLoop
        self.spool = spool
        self.settings = settings
        self.client = client
        self.mxResolver = resolver.map(MXResolver.init)
        self.threadPool = threadPool
        self.logger = logger
        (wakeUps, wakeUpContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// New mail is in the queue, or a session ended: look now.
    func wake() {
        wakeUpContinuation.yield()
    }

    /// Structured: the sessions are child tasks, and so is the grace period of a
    /// shutdown; the retry timer is the event loop's.
    func run() async throws {
        wake()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { shutdown in
                await withDiscardingTaskGroup { sessions in
                    for await _ in self.wakeUps {
                        guard !Task.isShuttingDownGracefully else { break }
                        for session in await self.sessionsToStart() {
                            sessions.addTask { await self.deliver(session) }
                        }
                        self.setTimer()
                    }
                    // Stopping: sessions already running may finish (their results are
                    // saved) within the grace period; then their connections are
                    // closed and their messages retried after the restart.
                    let (client, grace) = (self.client, self.configuration.limits.shutdownGrace)
                    shutdown.addTask {
                        guard (try? await Task.sleep(for: .seconds(grace))) != nil else { return }
                        client.closeAll()
                    }
                }
                // Every session ended: the rest of the grace period is not needed.
                shutdown.cancelAll()
            }
            self.timer.withLockedValue { $0?.cancel() }
            // Stopped early by the listeners' drain: a service ends only once the
            // group shuts it down.
            try? await gracefulShutdown()
        } onGracefulShutdown: {
            self.stop()
        }
    }

    /// SIGTERM (from the listeners, which stop first, so that both drains run
    /// together): no new sessions, and running ones take no more messages. Only the
    /// first call counts.
    func stop() {
        guard planner.withLockedValue({ $0.stop() }) else { return }
        wakeUpContinuation.finish()
    }

    // MARK: Administration (`veil queue`, through the control socket)

    /// Takes a message out of delivery for a change by the administrator; false
    /// while a session is sending it.
    func claim(_ queueID: String) -> Bool {
        planner.withLockedValue { $0.claim(queueID) }
    }

    /// Messages were put on hold: a pass under way must read the queue again.
    func noteHold() {
        planner.withLockedValue { $0.noteHold() }
    }

    func unclaim(_ queueID: String) {
        planner.withLockedValue { $0.unclaim(queueID) }
        wake()
    }

    /// Gives up on every recipient still to deliver of a claimed message: logged as
    /// bounced, with a report to the sender as for any bounce. False when the
    /// message is not queued.
    func bounceByAdministrator(_ queueID: String) async throws -> Bool {
        let spool = self.spool
        guard let job = try await threadPool.runIfActive({ try spool.pendingJob(queueID) }) else { return false }
        let reply = SMTPReply(554, "5.0.0", "returned to the sender by the mail administrator")
        await record(job, results: job.recipients.map { _ in .permanentFailure(reply) }, report: .empty, tls: nil,
                     relay: "none")
        return true
    }

    /// Wakes the runner when the next deferred recipient is due (or after the idle
    /// poll), replacing the previous timer.
    private func setTimer() {
        let next = try? spool.nextAttempt()
        let idle = Self.idlePoll
        let seconds = next.map { $0.timeIntervalSinceNow } ?? idle
        // At least a second: a due recipient that cannot be routed must not spin.
        let milliseconds = Int64(max(1, min(seconds, idle)) * 1000)
        let scheduled = eventLoop.scheduleTask(in: .milliseconds(milliseconds)) { [weak self] () -> Void in
            self?.wake()
        }
        timer.withLockedValue { previous in
            previous?.cancel()
            previous = scheduled
        }
    }

    /// Messages due now, not in `excluded`. Broken ones (file missing or cut short,
    /// an address edited into something that does not parse) are never sent: they
    /// are moved to the quarantine folder, with a log line each.
    private func dueJobs(excluded: Set<String>, limit: Int) async throws -> [DeliveryJob] {
        let spool = self.spool
        let (intact, broken) = try await threadPool.runIfActive {
            let due = try spool.dueJobs(now: Date(), limit: limit, excluded: excluded)
            var intact: [DeliveryJob] = []
            var broken: [(id: String, reason: String, failure: String?)] = []
            for job in due {
                guard let reason = spool.problem(with: job) else {
                    intact.append(job)
                    continue
                }
                do {
                    // False: the message left the queue since it was read (its file
                    // was missing for that reason).
                    if try spool.quarantine(job.queueID, reason: reason) { broken.append((job.queueID, reason, nil)) }
                } catch {
                    broken.append((job.queueID, reason, "\(error)"))
                }
            }
            return (intact, broken)
        }
        for entry in broken {
            if let failure = entry.failure {
                // Left where it is, but out of delivery until a restart.
                planner.withLockedValue { $0.keepOut(entry.id) }
                logger.log(.queueError(queueID: entry.id, error: "\(entry.reason); not quarantined: \(failure)"))
            } else {
                logger.log(.quarantined(queueID: entry.id, reason: entry.reason, folder: "\(spool.directory)/quarantine"))
            }
        }
        return intact
    }

    /// Due messages not in flight, packed into sessions within the limits; marks
    /// their messages in flight.
    private func sessionsToStart() async -> [Router.Session] {
        let limits = self.limits
        let (excluded, changes, free) = planner.withLockedValue { ($0.excluded, $0.administrativeChanges, $0.freeSessions(limits)) }
        guard free > 0 else { return [] }
        let jobs: [DeliveryJob]
        do {
            // As many messages as the free sessions can carry.
            jobs = try await dueJobs(excluded: excluded, limit: free * limits.messagesPerSession)
        } catch {
            logger.log(.queueError(queueID: nil, error: "\(error)"))
            return []
        }
        let candidates = router.sessions(for: jobs, messagesPerConnection: limits.messagesPerSession, perHop: limits.sessionsPerHop)
        guard let started = planner.withLockedValue({ $0.start(candidates, limits: limits, changes: changes) }) else {
            // The administrator changed the queue since it was read: read it again.
            wake()
            return []
        }
        return started
    }

    private func deliver(_ session: Router.Session) async {
        // The session's messages; it grows when the connection asks for more.
        let jobs = NIOLockedValueBox(session.jobs)
        var saved = Set<Int>()
        var report = SessionReport.empty
        var relay = session.hop.description
        switch session.hop {
        case .fixed(let host, let port):
            report = await attempt(session, jobs: jobs, host: host, port: port, serverName: nil, relay: relay, saved: &saved)
        case .mx(let domain):
            let outcome: MXResolver.Outcome
            if let mxResolver {
                outcome = (try? await dnsThreadPool.runIfActive { mxResolver.resolve(domain) }) ?? .temporaryFailure("shutting down")
            } else {
                outcome = .temporaryFailure("no DNS resolver (mode is not \"mx\")")
            }
            switch outcome {
            case .nullMX:
                // RFC 7505 §4.2: a null MX means the domain accepts no mail.
                await refuseAll(session, SMTPReply(556, "5.1.10", "Recipient address rejected: \(domain) accepts no mail (null MX)"),
                                relay: relay, saved: &saved)
            case .noSuchDomain:
                await refuseAll(session, SMTPReply(550, "5.1.2", "Recipient address rejected: domain \(domain) not found"),
                                relay: relay, saved: &saved)
            case .invalidDomain(let reason):
                // RFC 3463 X.1.2: the part right of the "@" is invalid for mail. No
                // lookup, no retry: the name is refused the same way every time.
                await refuseAll(session, SMTPReply(553, "5.1.2", "Recipient address rejected: \(domain) is not a valid domain name: \(reason)"),
                                relay: relay, saved: &saved)
            case .temporaryFailure(let reason):
                report.failure = reason
            case .hosts(let found):
                // An MX in an internal network is unusable: the next one is tried; with
                // none left the recipients bounce (no retries against it).
                let networks = InternalNetworks(allowed: configuration.delivery.allowNetworks)
                let hosts = found.map { MXResolver.Host(name: $0.name, addresses: $0.addresses.filter(networks.mayConnect)) }
                guard hosts.contains(where: { !$0.addresses.isEmpty }) else {
                    await refuseAll(session, SMTPReply(550, "5.4.4", "Recipient address rejected: the MX of \(domain) points into a private network"),
                                    relay: relay, saved: &saved)
                    break
                }
                // Each MX host and each of its addresses in turn, until one takes the
                // session (RFC 5321 §5.1); a refused connection or greeting moves on.
                hosts: for host in hosts {
                    for address in host.addresses {
                        relay = "\(host.name)[\(address)]:25"
                        report = await attempt(session, jobs: jobs, host: address, port: 25, serverName: host.name,
                                               relay: relay, saved: &saved)
                        if report.attempted > 0 || !saved.isEmpty || Task.isShuttingDownGracefully { break hosts }
                    }
                }
            }
        }
        if let tls = report.tls {
            RelayMetrics.tls(direction: "outbound", protocol: tls.protocolName)
        }
        let allJobs = jobs.withLockedValue { $0 }
        for (index, job) in allJobs.enumerated() where !saved.contains(index) {
            // Cut off in its transaction, or the session never got going: an attempt.
            // Not reached after others went through: still due, not an attempt.
            if index < report.attempted || report.attempted == 0 {
                await record(job, results: nil, report: report, tls: report.tls, relay: relay)
            }
        }
        planner.withLockedValue { $0.sessionEnded(hopName: session.hopName, queueIDs: allJobs.map(\.queueID)) }
        wake()
    }

    /// Due messages for the same hop as a running session, claimed for it (marked
    /// in flight), up to `messages_per_connection` in all.
    private func moreJobs(for session: Router.Session, jobs: NIOLockedValueBox<[DeliveryJob]>) async -> [OutboundMessage] {
        let room = limits.messagesPerSession - jobs.withLockedValue { $0.count }
        let (excluded, changes, stopping) = planner.withLockedValue { ($0.excluded, $0.administrativeChanges, $0.stopping) }
        guard room > 0, !stopping else { return [] }
        // Some of what is due goes elsewhere: read a few times more than there is room for.
        guard let due = try? await dueJobs(excluded: excluded, limit: min(10_000, room * 10)) else { return [] }
        let pieces = router.pieces(of: due, for: session)
        let claimed = planner.withLockedValue { $0.claimMore(pieces, queueID: \.queueID, room: room, changes: changes) }
        jobs.withLockedValue { $0 += claimed }
        return claimed.map { OutboundMessage(transaction: Router.transaction(for: $0), path: spool.messagePath($0.queueID)) }
    }

    /// One connection: each message's results are saved as soon as its transaction
    /// ends; returns the session's report.
    private func attempt(_ session: Router.Session, jobs: NIOLockedValueBox<[DeliveryJob]>, host: String, port: Int,
                         serverName: String?, relay: String, saved: inout Set<Int>) async -> SessionReport {
        let messages = jobs.withLockedValue { $0 }.map { job in
            OutboundMessage(transaction: Router.transaction(for: job), path: spool.messagePath(job.queueID))
        }
        let (finished, continuation) = AsyncStream.makeStream(of: (Int, [SMTPClientStateMachine.RecipientResult], TransactionContext).self)
        let future = client.deliver(messages, host: host, port: port, serverName: serverName, verifyCertificate: session.verify,
                                    configuration: session.client,
                                    fetchMore: { eventLoop in
                                        eventLoop.makeFutureWithTask { await self.moreJobs(for: session, jobs: jobs) }
                                    }) { index, results, context in
            continuation.yield((index, results, context))
        }
        future.whenComplete { _ in continuation.finish() }
        for await (index, results, context) in finished {
            await record(jobs.withLockedValue { $0[index] }, results: results, report: .empty, tls: context.tls,
                         nextHopTakesDSN: context.dsnOffered, relay: relay)
            saved.insert(index)
        }
        return (try? await future.get()) ?? .empty
    }

    /// Every recipient of the session gets the same refusal (DNS says no).
    private func refuseAll(_ session: Router.Session, _ reply: SMTPReply, relay: String, saved: inout Set<Int>) async {
        for (index, job) in session.jobs.enumerated() {
            await record(job, results: job.recipients.map { _ in .permanentFailure(reply) }, report: .empty, tls: nil,
                         relay: "none")
            saved.insert(index)
        }
    }

    /// Turns one message's results into per-recipient outcomes (``OutcomePolicy``),
    /// saves them with the sender's report, then logs them.
    private func record(_ job: DeliveryJob, results: [SMTPClientStateMachine.RecipientResult]?, report: SessionReport,
                        tls: TLSSessionInfo?, nextHopTakesDSN: Bool = false, relay: String) async {
        let decisions = policy.decide(job, results: results,
                                      sessionFailure: report.failureReply.map { "\($0)" } ?? report.failure ?? "session ended",
                                      relay: relay, nextHopTakesDSN: nextHopTakesDSN, now: Date(), jitter: Double.random(in: 1.0...1.1))
        let delay = Date().timeIntervalSince(job.receivedAt)
        func line(_ recipient: DeliveryJob.Recipient, _ event: OutcomePolicy.Event, reply: String, nextAttempt: Date?) -> VeilEvent {
            let attempt = VeilEvent.DeliveryAttempt(queueID: job.queueID, recipient: recipient.address, relay: relay,
                                                    tls: tls.map(\.description), attempt: recipient.attempts + 1,
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
                let reported = self.queueReport(for: job, notices: decisions.compactMap(\.notice))
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
        // Saved first, logged after: a log line never claims what the queue does not hold.
        for event in lines {
            logger.log(event)
            RelayMetrics.outcome(event.name)
        }
        if lines.contains(where: { if case .delivered = $0 { true } else { false } }) {
            RelayMetrics.sent(bytes: job.size, latency: Date().timeIntervalSince(job.receivedAt))
        }
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
    private func queueReport(for job: DeliveryJob, notices: [DeliveryStatusNotification.RecipientStatus]) -> Bool {
        guard !notices.isEmpty else { return true }
        let hostname = configuration.hostname
        var generator = SystemRandomNumberGenerator()
        let unique = String(generator.next() as UInt64, radix: 36) + String(generator.next() as UInt64, radix: 36)
        let report = DeliveryStatusNotification(
            reportingHost: hostname, job: job, recipients: notices,
            arrivalDate: Timestamp.rfc5322(job.receivedAt),
            date: Timestamp.rfc5322(Date()), messageID: "<\(unique)@\(hostname)>", boundary: "=_veil_dsn_\(unique)")
        var envelope = Envelope(sender: .null, parameters: MailParameters(), clientName: hostname,
                                authenticatedUser: nil, protocolName: "ESMTP")
        envelope.recipients = [Recipient(mailbox: Router.mailbox(job.sender), parameters: RecipientParameters())]
        do {
            guard let id = try spool.enqueueReport(report, envelope: envelope, receivedAt: Date()) else {
                // Nothing to report on and nothing to send again: giving up is all that is left.
                logger.log(.queueError(queueID: job.queueID, error: "message file missing for the bounce"))
                return true
            }
            let bounce = notices.contains { $0.action == .failed }
            logger.log(bounce ? .bounceQueued(queueID: id, originalQueueID: job.queueID, to: job.sender, recipients: notices.count)
                              : .reportQueued(queueID: id, originalQueueID: job.queueID, to: job.sender, recipients: notices.count))
            wake()
            return true
        } catch {
            let bounce = notices.contains { $0.action == .failed }
            logger.log(.queueError(queueID: job.queueID,
                                   error: bounce ? "bounce not queued: \(error); the recipients stay deferred and are tried again"
                                                 : "report not queued: \(error)"))
            return !bounce
        }
    }
}
