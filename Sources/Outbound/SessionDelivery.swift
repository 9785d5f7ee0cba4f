import Connections
import Delivery
import Foundation
import MailQueue
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PolicyRecords
import SMTPCore
import TLSReporting

/// Carries one planned session out: finds the next hop's addresses (the MX hosts
/// in order, RFC 5321 §5.1, or a fixed host), sends through the transport, lets the
/// connection take more due mail for the same hop, and records every message's
/// outcome as soon as its transaction ends.
struct SessionDelivery: Sendable {
    let client: any DeliveryTransport
    /// Nil when every destination is a route or the smarthost.
    let mxResolver: MXResolver?
    /// Nil when every destination is a route or the smarthost.
    let mtaSTS: MTASTSPolicies?
    /// DNS lookups block for seconds when nameservers do not answer: they get
    /// threads of their own, so that queue writes and AUTH checks never wait.
    let dnsThreadPool: NIOThreadPool
    let spool: Spool
    let due: DueMessages
    let recorder: OutcomeRecorder
    let tlsResults: TLSResultRecorder
    let planner: NIOLockedValueBox<DeliveryPlanner>
    let settings: @Sendable () -> OutboundSettings

    /// Returns once every message of the session (and those it took on) is recorded
    /// or left due; its messages are then free for the next pass.
    func run(_ session: Router.Session) async {
        let jobs = NIOLockedValueBox(session.jobs)
        var saved = Set<Int>()
        var report = SessionReport.empty
        var relay = session.hop.description
        var heldTo: HostTLSPolicy?
        switch session.hop {
        case .fixed(let host, let port):
            let policy = HostTLSPolicy.fixed(session.policy)
            heldTo = policy
            report = await attempt(session, jobs: jobs, host: host, port: port, serverName: nil, tls: policy,
                                   relay: relay, saved: &saved)
        case .mx(let domain):
            switch await resolve(domain) {
            case .refused(let reply):
                await refuseAll(session, reply, saved: &saved)
            case .unavailable(let reason):
                report.failure = reason
            case .hosts(let hosts):
                (report, relay, heldTo) = await tryHosts(hosts, domain: domain, session, jobs: jobs, saved: &saved)
            }
        }
        if let tls = report.tls {
            TLSSessionMetrics.count(.outbound, protocol: tls.protocolName)
        }
        if let heldTo, report.tls != nil || report.tlsFailure != nil || report.attempted > 0 {
            DeliveryMetrics.tlsPolicy(heldTo.name, report)
        }
        let allJobs = jobs.withLockedValue { $0 }
        for (index, job) in allJobs.enumerated() where !saved.contains(index) {
            // Cut off in its transaction, or the session never got going: an attempt.
            // Not reached after others went through: still due, not an attempt.
            if index < report.attempted || report.attempted == 0 {
                await recorder.record(job, results: nil, report: report, tls: report.tls, tlsPolicy: heldTo?.name, relay: relay)
            }
        }
        planner.withLockedValue { $0.sessionEnded(hopName: session.hopName, queueIDs: allJobs.map(\.queueID)) }
    }

    /// Each MX host and each of its addresses in turn, until one takes the session
    /// (RFC 5321 §5.1); a refused connection or greeting, or a host the TLS policy
    /// rules out, moves on. Returns the last report, its relay and TLS policy; what
    /// each connection tells a TLS report is counted.
    private func tryHosts(_ hosts: [MXResolver.Host], domain: String, _ session: Router.Session,
                          jobs: NIOLockedValueBox<[DeliveryJob]>, saved: inout Set<Int>)
        async -> (SessionReport, relay: String, HostTLSPolicy?) {
        let destination = TLSResultRecorder.Destination(domain: (try? IDNA.toASCII(domain)) ?? domain,
                                                        sts: await mtaSTSPolicy(domain, session.policy))
        var report = SessionReport.empty
        var relay = session.hop.description
        var heldTo: HostTLSPolicy?
        var results: [TLSSessionResult] = []
        hosts: for host in hosts where !host.addresses.isEmpty {
            let policy: HostTLSPolicy
            switch await tlsPolicy(for: host, session.policy, sts: destination.sts?.policy) {
            case .connect(let decided): policy = decided
            case .skip(let reason):
                // As if its connection failed: the next host is tried.
                relay = "\(host.name)"
                report = SessionReport(messageCount: session.jobs.count)
                report.failure = reason
                results += [TLSResultRecorder.result(destination, host: host, address: nil, policy: nil, skipped: reason,
                                                     report: nil)].compactMap { $0 }
                continue hosts
            }
            heldTo = policy
            for address in host.addresses {
                relay = "\(host.name)[\(address)]:25"
                report = await attempt(session, jobs: jobs, host: address, port: 25, serverName: policy.serverName ?? host.name,
                                       tls: policy, relay: relay, saved: &saved)
                results += [TLSResultRecorder.result(destination, host: host, address: address, policy: policy, skipped: nil,
                                                     report: report)].compactMap { $0 }
                if report.attempted > 0 || !saved.isEmpty || Task.isShuttingDownGracefully { break hosts }
            }
        }
        if let reportSender = settings().tlsReportSender,
           !jobs.withLockedValue({ $0 }).allSatisfy({ $0.sender.lowercased() == reportSender.lowercased() }) {
            await tlsResults.count(results)
        }
        return (report, relay, heldTo)
    }

    /// Where mail for a domain can go, by its MX records.
    enum Destination {
        /// The MX hosts with the addresses Veil may connect to, at least one.
        case hosts([MXResolver.Host])
        /// The domain takes no mail through Veil: every recipient bounces.
        case refused(SMTPReply)
        /// Try again later.
        case unavailable(String)
    }

    private func resolve(_ domain: String) async -> Destination {
        guard let mxResolver else { return .unavailable("no DNS resolver (mode is not \"mx\")") }
        let outcome = (try? await dnsThreadPool.runIfActive { mxResolver.resolve(domain) }) ?? .temporaryFailure("shutting down")
        switch outcome {
        case .nullMX:
            // RFC 7505 §4.2: a null MX means the domain accepts no mail.
            return .refused(SMTPReply(556, "5.1.10", "Recipient address rejected: \(domain) accepts no mail (null MX)"))
        case .noSuchDomain:
            return .refused(SMTPReply(550, "5.1.2", "Recipient address rejected: domain \(domain) not found"))
        case .invalidDomain(let reason):
            // RFC 3463 X.1.2: the part right of the "@" is invalid for mail. No
            // lookup, no retry: the name is refused the same way every time.
            return .refused(SMTPReply(553, "5.1.2", "Recipient address rejected: \(domain) is not a valid domain name: \(reason)"))
        case .temporaryFailure(let reason):
            return .unavailable(reason)
        case .hosts(let found):
            // An MX in an internal network is unusable: the next one is tried; with
            // none left the recipients bounce (no retries against it).
            let networks = settings().internalNetworks
            let hosts = found.map { host in
                var usable = host
                usable.addresses = host.addresses.filter(networks.mayConnect)
                return usable
            }
            guard hosts.contains(where: { !$0.addresses.isEmpty }) else {
                return .refused(SMTPReply(550, "5.4.4", "Recipient address rejected: the MX of \(domain) points into a private network"))
            }
            return .hosts(hosts)
        }
    }

    /// The TLS a connection to an MX host is held to; the TLSA lookup (RFC 7672
    /// §2.2) runs on the DNS threads.
    private func tlsPolicy(for host: MXResolver.Host, _ policy: TLSPolicy, sts: MTASTSPolicy?) async -> HostTLSPolicy.Decision {
        guard let mxResolver, HostTLSPolicy.looksUpTLSA(policy, host: host) else {
            return HostTLSPolicy.mxHost(policy, host: host, tlsa: nil, sts: sts)
        }
        let found = (try? await dnsThreadPool.runIfActive { HostTLSPolicy.lookUpTLSA(host, resolver: mxResolver.resolver) })
            ?? (lookup: DNSResolver.Lookup(answer: .temporaryFailure("shutting down"), secure: false), base: host.name)
        return HostTLSPolicy.mxHost(policy, host: host, tlsa: found.lookup, tlsaBase: found.base, sts: sts)
    }

    /// The recipient domain's MTA-STS policy (RFC 8461), where `[delivery] mta_sts`
    /// is on and the hop's policy lets MTA-STS raise it.
    private func mtaSTSPolicy(_ domain: String, _ policy: TLSPolicy) async -> MTASTSPolicies.Found? {
        guard let mtaSTS, settings().mtaSTS, [.dane, .opportunistic, .required].contains(policy),
              let ascii = try? IDNA.toASCII(domain) else { return nil }
        return await mtaSTS.policy(for: ascii)
    }

    /// One connection: each message's results are saved as soon as its transaction
    /// ends; returns the session's report.
    private func attempt(_ session: Router.Session, jobs: NIOLockedValueBox<[DeliveryJob]>, host: String, port: Int,
                         serverName: String?, tls: HostTLSPolicy, relay: String, saved: inout Set<Int>) async -> SessionReport {
        let messages = jobs.withLockedValue { $0 }.map(message)
        let (finished, continuation) = AsyncStream.makeStream(of: (Int, [SMTPClientStateMachine.RecipientResult], TransactionContext).self)
        let future = client.deliver(messages, host: host, port: port, serverName: serverName, tls: tls.requirement,
                                    configuration: session.client,
                                    fetchMore: { eventLoop in
                                        eventLoop.makeFutureWithTask { await moreJobs(for: session, jobs: jobs) }
                                    }) { index, results, context in
            continuation.yield((index, results, context))
        }
        future.whenComplete { _ in continuation.finish() }
        for await (index, results, context) in finished {
            await recorder.record(jobs.withLockedValue { $0[index] }, results: results, report: .empty, tls: context.tls,
                                  tlsPolicy: tls.name, nextHopTakesDSN: context.dsnOffered, relay: relay)
            saved.insert(index)
        }
        return (try? await future.get()) ?? .empty
    }

    /// Due messages for the same hop as a running session, claimed for it (marked
    /// in flight), up to `messages_per_connection` in all.
    private func moreJobs(for session: Router.Session, jobs: NIOLockedValueBox<[DeliveryJob]>) async -> [OutboundMessage] {
        let settings = self.settings()
        let room = settings.limits.messagesPerSession - jobs.withLockedValue { $0.count }
        let (excluded, changes, stopping) = planner.withLockedValue { ($0.excluded, $0.administrativeChanges, $0.stopping) }
        guard room > 0, !stopping else { return [] }
        // Some of what is due goes elsewhere: read a few times more than there is room for.
        guard let due = try? await due.read(excluded: excluded, limit: min(10_000, room * 10)) else { return [] }
        let pieces = settings.router.pieces(of: due, for: session)
        let claimed = planner.withLockedValue { $0.claimMore(pieces, queueID: \.queueID, room: room, changes: changes) }
        jobs.withLockedValue { $0 += claimed }
        return claimed.map(message)
    }

    private func message(_ job: DeliveryJob) -> OutboundMessage {
        OutboundMessage(transaction: Router.transaction(for: job), path: spool.messagePath(job.queueID))
    }

    /// Every recipient of the session gets the same refusal (DNS says no).
    private func refuseAll(_ session: Router.Session, _ reply: SMTPReply, saved: inout Set<Int>) async {
        for (index, job) in session.jobs.enumerated() {
            await recorder.refuse(job, reply)
            saved.insert(index)
        }
    }
}
