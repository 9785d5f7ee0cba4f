import Foundation

/// An MTA-STS policy as fetched (RFC 8461 §3.3), with the id of the TXT record that
/// announced it: used until `expiresAt` (its max_age), and fetched again when the
/// record's id changes (§5.1).
public struct CachedMTASTSPolicy: Sendable, Equatable {
    public var recordID: String
    /// The policy text as served.
    public var policy: String
    public var fetchedAt: Date
    public var expiresAt: Date

    public init(recordID: String, policy: String, fetchedAt: Date, expiresAt: Date) {
        self.recordID = recordID
        self.policy = policy
        self.fetchedAt = fetchedAt
        self.expiresAt = expiresAt
    }
}

/// How many sessions of a day ended one way (the TLS reports of RFC 8460 add them
/// up; `session` is the result as its caller encoded it).
public struct TLSSessionCount: Sendable, Equatable {
    /// `2026-12-07` (UTC).
    public var day: String
    public var session: String
    public var count: Int

    /// The day (UTC) a time falls on, as counts are kept: `2026-12-07`.
    public static func day(of date: Date) -> String {
        String(Timestamp.format(date).prefix(10))
    }

    public init(day: String, session: String, count: Int) {
        self.day = day
        self.session = session
        self.count = count
    }
}

/// Outbound TLS state kept in the queue database, so that it survives restarts:
/// MTA-STS policies and the TLS session counts of days not yet reported.
extension Spool {
    public func mtaSTSPolicy(domain: String) throws -> CachedMTASTSPolicy? {
        try index.mtaSTSPolicy(domain: domain)
    }

    public func saveMTASTSPolicy(_ policy: CachedMTASTSPolicy, domain: String) throws {
        try index.save(policy, domain: domain)
    }

    /// Counts each session result under its day, in one transaction.
    public func countTLSSessions(_ sessions: [(day: String, session: String)]) throws {
        try index.countTLSSessions(sessions)
    }

    /// The counts of every day before `day` (days not yet reported).
    public func tlsSessions(before day: String) throws -> [TLSSessionCount] {
        try index.tlsSessions(before: day)
    }

    /// A day's counts, once its reports are sent.
    public func deleteTLSSessions(day: String) throws {
        try index.deleteTLSSessions(day: day)
    }

    /// Takes `counts` (as read, now reported) off their rows, in one transaction; a
    /// row left at zero goes. Sessions counted since the read stay for the next report.
    public func uncountTLSSessions(_ counts: [TLSSessionCount]) throws {
        try index.uncountTLSSessions(counts)
    }
}
