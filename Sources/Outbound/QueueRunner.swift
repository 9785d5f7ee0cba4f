import Delivery
import Foundation
import LogEvents
import Logging
import MailQueue
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import SMTPCore

/// Takes due recipients from the queue, groups them by next hop, and delivers them:
/// one session per group of up to `messages_per_connection` messages, at most
/// `concurrency` sessions at once and `concurrency_per_domain` per hop. It never
/// waits for running sessions before starting more: each wake-up (new mail, a retry
/// falling due, a session ending) starts what is due and not already in flight.
///
/// The wiring of the outbound side: ``DeliveryPlanner`` decides what starts,
/// ``SessionDelivery`` carries a session out, ``OutcomeRecorder`` saves what became
/// of each recipient.
public final class QueueRunner: Service {
    private let spool: Spool
    /// Read once per pass: a reload replaces them between passes.
    private let settings: @Sendable () -> OutboundSettings
    private let client: any DeliveryTransport
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let wakeUps: AsyncStream<Void>
    private let wakeUpContinuation: AsyncStream<Void>.Continuation
    /// Wakes the runner when the next retry falls due: a timer of the event loop,
    /// replaced after every pass (no task of its own).
    private let timer = NIOLockedValueBox<Scheduled<Void>?>(nil)
    private let eventLoop: any EventLoop
    private let planner = NIOLockedValueBox(DeliveryPlanner())
    private let due: DueMessages
    private let recorder: OutcomeRecorder
    private let delivery: SessionDelivery
    /// Seconds to wait at most when nothing is due (new mail wakes the runner).
    static let idlePoll = 30.0

    /// `resolver`: nil when every destination is a route or the smarthost.
    /// `fetcher`: for MTA-STS policies (with `resolver`).
    public init(spool: Spool, settings: @escaping @Sendable () -> OutboundSettings, client: any DeliveryTransport,
                resolver: DNSResolver?, fetcher: HTTPSFetcher?, threadPool: NIOThreadPool, dnsThreadPool: NIOThreadPool,
                eventLoop: any EventLoop, logger: Logger) {
        self.spool = spool
        self.settings = settings
        self.client = client
        self.threadPool = threadPool
        self.eventLoop = eventLoop
        self.logger = logger
        let (wakeUps, wakeUpContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (self.wakeUps, self.wakeUpContinuation) = (wakeUps, wakeUpContinuation)
        due = DueMessages(spool: spool, threadPool: threadPool, planner: planner, logger: logger)
        recorder = OutcomeRecorder(spool: spool, threadPool: threadPool, planner: planner, settings: settings, logger: logger,
                                   onReportQueued: { wakeUpContinuation.yield() })
        let mxResolver = resolver.map(MXResolver.init)
        let mtaSTS = mxResolver.flatMap { mxResolver in
            fetcher.map { fetcher in
                MTASTSPolicies(spool: spool, mxResolver: mxResolver, fetcher: fetcher, dnsThreadPool: dnsThreadPool,
                               threadPool: threadPool, internalNetworks: { settings().internalNetworks }, logger: logger)
            }
        }
        delivery = SessionDelivery(client: client, mxResolver: mxResolver, mtaSTS: mtaSTS, dnsThreadPool: dnsThreadPool,
                                   spool: spool, due: due, recorder: recorder,
                                   tlsResults: TLSResultRecorder(spool: spool, threadPool: threadPool),
                                   planner: planner, settings: settings)
    }

    /// New mail is in the queue, or a session ended: look now.
    public func wake() {
        wakeUpContinuation.yield()
    }

    /// Structured: the sessions are child tasks, and so is the grace period of a
    /// shutdown; the retry timer is the event loop's.
    public func run() async throws {
        wake()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { shutdown in
                await withDiscardingTaskGroup { sessions in
                    for await _ in self.wakeUps {
                        guard !Task.isShuttingDownGracefully else { break }
                        for session in await self.sessionsToStart() {
                            sessions.addTask {
                                await self.delivery.run(session)
                                self.wake()
                            }
                        }
                        self.setTimer()
                    }
                    // Stopping: sessions already running may finish (their results are
                    // saved) within the grace period; then their connections are
                    // closed and their messages retried after the restart.
                    let (client, grace) = (self.client, self.settings().shutdownGrace)
                    shutdown.addTask {
                        guard (try? await Task.sleep(for: grace)) != nil else { return }
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
    public func stop() {
        guard planner.withLockedValue({ $0.stop() }) else { return }
        wakeUpContinuation.finish()
    }

    // MARK: Administration (`veil queue`, through the control socket)

    /// Takes a message out of delivery for a change by the administrator; false
    /// while a session is sending it.
    public func claim(_ queueID: String) -> Bool {
        planner.withLockedValue { $0.claim(queueID) }
    }

    /// Messages were put on hold: a pass under way must read the queue again.
    public func noteHold() {
        planner.withLockedValue { $0.noteHold() }
    }

    public func unclaim(_ queueID: String) {
        planner.withLockedValue { $0.unclaim(queueID) }
        wake()
    }

    /// Gives up on every recipient still to deliver of a claimed message: logged as
    /// bounced, with a report to the sender as for any bounce. False when the
    /// message is not queued.
    public func bounceByAdministrator(_ queueID: String) async throws -> Bool {
        let spool = self.spool
        guard let job = try await threadPool.runIfActive({ try spool.pendingJob(queueID) }) else { return false }
        await recorder.refuse(job, SMTPReply(554, "5.0.0", "returned to the sender by the mail administrator"))
        return true
    }

    // MARK: Passes

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

    /// Due messages not in flight, packed into sessions within the limits; marks
    /// their messages in flight.
    private func sessionsToStart() async -> [Router.Session] {
        let settings = self.settings()
        let limits = settings.limits
        let (excluded, changes, free) = planner.withLockedValue { ($0.excluded, $0.administrativeChanges, $0.freeSessions(limits)) }
        guard free > 0 else { return [] }
        let jobs: [DeliveryJob]
        do {
            // As many messages as the free sessions can carry.
            jobs = try await due.read(excluded: excluded, limit: free * limits.messagesPerSession)
        } catch {
            logger.log(.queueError(queueID: nil, error: "\(error)"))
            return []
        }
        let candidates = settings.router.sessions(for: jobs, messagesPerConnection: limits.messagesPerSession,
                                                  perHop: limits.sessionsPerHop)
        guard let started = planner.withLockedValue({ $0.start(candidates, limits: limits, changes: changes) }) else {
            // The administrator changed the queue since it was read: read it again.
            wake()
            return []
        }
        return started
    }
}
