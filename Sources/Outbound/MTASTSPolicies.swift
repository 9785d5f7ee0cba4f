import Delivery
import Foundation
import LogEvents
import Logging
import MailQueue
import NIOCore
import NIOPosix
import PolicyRecords
import TLSReporting

/// The MTA-STS policy of each recipient domain, as a sending MTA finds it (RFC 8461
/// §3, §5): the `_mta-sts` TXT record's id, the policy cached in the queue
/// database until its max_age, fetched again over HTTPS when the id changes. A
/// failed fetch keeps the cached policy; without one, there is no policy, and the
/// failure is what the TLS report tells (RFC 8460 §4.3.2.3).
actor MTASTSPolicies {
    /// What applies to a domain's MX hosts.
    struct Found: Sendable {
        /// Nil: none published (or none usable, and none cached).
        var policy: MTASTSPolicy?
        /// Why a published policy could not be used, for the log and TLS reports.
        var failure: (type: TLSResultType, reason: String)?
    }

    private let spool: Spool
    private let mxResolver: MXResolver
    private let fetcher: HTTPSFetcher
    private let dnsThreadPool: NIOThreadPool
    private let threadPool: NIOThreadPool
    private let internalNetworks: @Sendable () -> InternalNetworks
    private let logger: Logger
    /// One fetch per domain at a time: sessions that ask meanwhile wait for it.
    private var fetching: [String: Task<Found, Never>] = [:]
    /// When a fetch last failed: not tried again for a while, whatever the sessions.
    private var failedAt: [String: Date] = [:]
    static let retryAfterFailure: TimeInterval = 300

    init(spool: Spool, mxResolver: MXResolver, fetcher: HTTPSFetcher, dnsThreadPool: NIOThreadPool, threadPool: NIOThreadPool,
         internalNetworks: @escaping @Sendable () -> InternalNetworks, logger: Logger) {
        self.logger = logger
        self.spool = spool
        self.mxResolver = mxResolver
        self.fetcher = fetcher
        self.dnsThreadPool = dnsThreadPool
        self.threadPool = threadPool
        self.internalNetworks = internalNetworks
    }

    /// `domain` in its ASCII form.
    func policy(for domain: String) async -> Found {
        if let running = fetching[domain] { return await running.value }
        let task = Task { await self.find(domain) }
        fetching[domain] = task
        let found = await task.value
        fetching[domain] = nil
        return found
    }

    private func find(_ domain: String) async -> Found {
        let now = Date()
        let spool = self.spool
        let cached = (try? await threadPool.runIfActive { try spool.mtaSTSPolicy(domain: domain) }) ?? nil
        let usable = cached.flatMap { $0.expiresAt > now ? try? MTASTSPolicy(text: $0.policy) : nil }
        let fetch = MTASTSFetch(mxResolver: mxResolver, fetcher: fetcher, dnsThreadPool: dnsThreadPool,
                                internalNetworks: internalNetworks())
        // No answer: the cached policy holds (§5.1: only a new id replaces it).
        guard case .success(let record) = await fetch.record(domain) else { return Found(policy: usable) }
        switch record {
        case .absent:
            return Found(policy: usable)
        case .invalid(let reason):
            return Found(policy: usable, failure: usable == nil ? (.stsPolicyInvalid, "_mta-sts.\(domain): \(reason)") : nil)
        case .valid(let id):
            // The same id: the cached policy holds; past half its max_age (a day at
            // most) it is fetched again, so that an attacker who blocks the fetch
            // when it expires finds a fresh one (§10.2).
            if let usable, let cached, cached.recordID == id, now < Self.refreshTime(of: cached) { return Found(policy: usable) }
            if let failed = failedAt[domain], now.timeIntervalSince(failed) < Self.retryAfterFailure {
                return Found(policy: usable, failure: usable == nil ? (.stsPolicyFetchError, "fetch failed recently") : nil)
            }
            switch await fetch.fetch(domain) {
            case .success(let policy):
                failedAt[domain] = nil
                let entry = CachedMTASTSPolicy(recordID: id, policy: policy.text, fetchedAt: now,
                                               expiresAt: now.addingTimeInterval(TimeInterval(policy.maxAgeSeconds)))
                _ = try? await threadPool.runIfActive { try spool.saveMTASTSPolicy(entry, domain: domain) }
                return Found(policy: policy)
            case .failure(let failure):
                failedAt = failedAt.filter { now.timeIntervalSince($0.value) < Self.retryAfterFailure }
                failedAt[domain] = now
                logger.log(.mtaSTSFailed(domain: domain, reason: failure.reason, kept: usable != nil))
                return Found(policy: usable, failure: usable == nil ? (failure.type, failure.reason) : nil)
            }
        }
    }

    /// When a cached policy is fetched again although its id is the same.
    static func refreshTime(of cached: CachedMTASTSPolicy) -> Date {
        cached.fetchedAt.addingTimeInterval(min(86_400, cached.expiresAt.timeIntervalSince(cached.fetchedAt) / 2))
    }
}
