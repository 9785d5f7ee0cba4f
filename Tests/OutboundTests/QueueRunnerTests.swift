import Delivery
import Foundation
import Logging
import MailQueue
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycleTestKit
import SMTPCore
import Testing
@testable import Outbound

/// The queue runner against a scripted transport (no sockets): a queued message
/// goes out, its outcome is saved, and a graceful shutdown lets running sessions
/// finish within the grace period, then ends them.
@Suite struct QueueRunnerTests {
    /// Answers each message with `reply` for every recipient; with `hang`, the
    /// session never ends on its own, only when ``closeAll()`` is called.
    final class ScriptedTransport: DeliveryTransport, @unchecked Sendable {
        let reply: SMTPReply
        let hang: Bool
        private let lock = NIOLock()
        private var open: [EventLoopPromise<SessionReport>] = []
        private(set) var closedAll = false
        let sessions: AsyncStream<[OutboundMessage]>
        private let sessionStarted: AsyncStream<[OutboundMessage]>.Continuation
        let loop: any EventLoop

        init(reply: SMTPReply, hang: Bool = false, loop: any EventLoop) {
            (self.reply, self.hang, self.loop) = (reply, hang, loop)
            (sessions, sessionStarted) = AsyncStream.makeStream()
        }

        func deliver(_ messages: [OutboundMessage], host: String, port: Int, serverName: String?, tls: TLSRequirement,
                     configuration: SMTPClientStateMachine.Configuration,
                     fetchMore: (@Sendable (any EventLoop) -> EventLoopFuture<[OutboundMessage]>)?,
                     onTransaction: @escaping @Sendable (Int, [SMTPClientStateMachine.RecipientResult], TransactionContext) -> Void)
            -> EventLoopFuture<SessionReport> {
            sessionStarted.yield(messages)
            var report = SessionReport(messageCount: messages.count)
            if hang {
                let promise = loop.makePromise(of: SessionReport.self)
                lock.withLock { open.append(promise) }
                report.failure = "connection closed"
                return promise.futureResult.map { [report] _ in report }
            }
            report.attempted = messages.count
            for (index, message) in messages.enumerated() {
                let results: [SMTPClientStateMachine.RecipientResult] = message.transaction.recipients.map { _ in
                    reply.code < 300 ? .accepted(reply) : reply.code < 500 ? .transientFailure(reply) : .permanentFailure(reply)
                }
                report.results[index] = results
                onTransaction(index, results, TransactionContext(tls: nil, dsnOffered: true))
            }
            return loop.makeSucceededFuture(report)
        }

        func closeAll() {
            let promises = lock.withLock {
                closedAll = true
                defer { open = [] }
                return open
            }
            for promise in promises { promise.succeed(SessionReport(messageCount: 0)) }
        }
    }

    /// A spool with one message for b@example.org, and a runner on it.
    struct Harness {
        let spool: Spool
        let runner: QueueRunner
        let queueID: String
    }

    static func harness(_ transport: ScriptedTransport, directory: String, group: any EventLoopGroup,
                        threads: NIOThreadPool) throws -> Harness {
        let (spool, _) = try Spool.open(directory: directory)
        // A smarthost, one hour between attempts, a grace period of a second.
        let table = RoutingTable(smarthost: Hop(host: "192.0.2.25", port: 25), smarthostCredentials: nil, tls: .opportunistic,
                                 domains: [], heloName: "veil.test", hostname: "veil.test")
        let settings = OutboundSettings(router: Router(table),
                                        limits: .init(sessions: 4, sessionsPerHop: 2, messagesPerSession: 20),
                                        policy: OutcomePolicy(retrySchedule: [3600], maximumLifetime: 5 * 86400),
                                        internalNetworks: InternalNetworks(allowed: []), hostname: "veil.test",
                                        shutdownGrace: .seconds(1))
        var envelope = Envelope(sender: .mailbox(Mailbox(localPart: "a", domain: "corp.example")), parameters: MailParameters(),
                                clientName: "client.example", authenticatedUser: nil, protocolName: "ESMTP")
        envelope.recipients = [Recipient(mailbox: Mailbox(localPart: "b", domain: "example.org"), parameters: RecipientParameters())]
        let incoming = try spool.createIncoming()
        try incoming.write(ByteBuffer(string: "Subject: test\r\n\r\nhello\r\n"))
        try spool.commit(incoming, envelope: envelope, receivedAt: Date(), clientAddress: "127.0.0.1", listener: "plain")
        let runner = QueueRunner(spool: spool, settings: { settings }, client: transport, resolver: nil, fetcher: nil, threadPool: threads,
                                 dnsThreadPool: threads, eventLoop: group.next(), logger: Logger(label: "test"))
        return Harness(spool: spool, runner: runner, queueID: incoming.queueID)
    }

    /// Runs the runner until its first session started, then shuts it down
    /// gracefully; returns once `run()` has returned.
    static func runUntilFirstSession(_ transport: ScriptedTransport, _ runner: QueueRunner) async throws -> [OutboundMessage] {
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await runner.run() }
                var sessions = transport.sessions.makeAsyncIterator()
                let first = await sessions.next() ?? []
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
                return first
            }
        }
    }

    func withHarness(_ transport: (any EventLoop) -> ScriptedTransport,
                     _ body: (ScriptedTransport, Harness) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "veil-runner-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let threads = NIOThreadPool(numberOfThreads: 2)
        threads.start()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let scripted = transport(group.next())
        try await body(scripted, try Self.harness(scripted, directory: directory, group: group, threads: threads))
        try await threads.shutdownGracefully()
        try await group.shutdownGracefully()
    }

    @Test func aDeliveredMessageLeavesTheQueue() async throws {
        try await withHarness({ ScriptedTransport(reply: SMTPReply(250, "2.0.0", "Ok"), loop: $0) }) { transport, harness in
            let sent = try await Self.runUntilFirstSession(transport, harness.runner)
            #expect(sent.map { $0.transaction.recipients.map(\.mailbox.description) } == [["b@example.org"]])
            #expect(try harness.spool.queuedCount() == 0)
        }
    }

    @Test func aTemporaryFailureIsDeferredOnTheSchedule() async throws {
        try await withHarness({ ScriptedTransport(reply: SMTPReply(451, "4.7.1", "Greylisted"), loop: $0) }) { transport, harness in
            _ = try await Self.runUntilFirstSession(transport, harness.runner)
            let recipient = try #require(try harness.spool.entries().first?.recipients.first)
            #expect(recipient.state == "deferred" && recipient.attempts == 1 && recipient.lastReply == "451 4.7.1 Greylisted")
            let next = try #require(try harness.spool.nextAttempt())
            #expect(next.timeIntervalSinceNow > 3000)
        }
    }

    /// A session still running at SIGTERM is ended once the grace period is over;
    /// its message stays queued for the next start.
    @Test func aShutdownEndsSessionsStillRunningAfterTheGracePeriod() async throws {
        try await withHarness({ ScriptedTransport(reply: SMTPReply(250, "2.0.0", "Ok"), hang: true, loop: $0) }) { transport, harness in
            _ = try await Self.runUntilFirstSession(transport, harness.runner)
            #expect(transport.closedAll)
            #expect(try harness.spool.queuedCount() == 1)
            #expect(try harness.spool.entries().first?.recipients.first?.state == "deferred")
        }
    }
}
