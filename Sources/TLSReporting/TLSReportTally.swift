/// Adds up session results into a report (RFC 8460 §4): one `policies` entry per
/// policy (domain, type and policy strings), each with its success and failure
/// counts (§4.2) and its failures grouped by result type, the two hosts and the
/// reason code, with how many sessions failed so (§4.4).
///
/// Pure and order-independent: the same results, added in any order (as they
/// come, or read back from a table), give the same report. A report goes to one
/// TLSRPT record's `rua`, so a tally holds the results meant for one report; which
/// those are (one policy domain, or a recipient domain with its MX hosts' DANE
/// results) is the caller's choice.
public struct TLSReportTally: Sendable {
    struct PolicyKey: Hashable {
        var domain: String
        var type: TLSReport.PolicyType
        var strings: [String]
    }

    struct FailureKey: Hashable {
        var resultType: TLSResultType
        var sendingMTAIP: String
        var receivingMXHostname: String
        var receivingIP: String
        var failureReasonCode: String?
    }

    struct Counts {
        var mxHosts: Set<String> = []
        var successes = 0
        var failures: [FailureKey: Int] = [:]
    }

    var policies: [PolicyKey: Counts] = [:]

    public init() {}

    public init(_ results: some Sequence<TLSSessionResult>) {
        for result in results { add(result) }
    }

    /// `sessions`: how many sessions ended so (a count read back from a table).
    public mutating func add(_ result: TLSSessionResult, sessions: Int = 1) {
        let key = PolicyKey(domain: result.policyDomain, type: result.policyType, strings: result.policyStrings)
        policies[key, default: Counts()].mxHosts.formUnion(result.mxHosts)
        if let resultType = result.resultType {
            let failure = FailureKey(resultType: resultType, sendingMTAIP: result.sendingMTAIP,
                                     receivingMXHostname: result.receivingMXHostname, receivingIP: result.receivingIP,
                                     failureReasonCode: result.failureReasonCode)
            policies[key, default: Counts()].failures[failure, default: 0] += sessions
        } else {
            policies[key, default: Counts()].successes += sessions
        }
    }

    /// The report of what was added, policies and failures in a fixed order (by
    /// domain, type and strings; by result type, MX host, addresses and reason).
    /// `dateRange` is usually ``TLSReport/DateRange/init(utcDayContaining:)``.
    public func report(organizationName: String, contactInfo: String, reportID: String,
                       dateRange: TLSReport.DateRange) -> TLSReport {
        let results = policies.sorted { Self.precedes($0.key, $1.key) }.map { key, counts in
            let details = counts.failures.sorted { Self.precedes($0.key, $1.key) }.map { failure, sessions in
                TLSReport.FailureDetails(resultType: failure.resultType, sendingMTAIP: failure.sendingMTAIP,
                                         receivingMXHostname: failure.receivingMXHostname, receivingIP: failure.receivingIP,
                                         failedSessionCount: sessions, failureReasonCode: failure.failureReasonCode)
            }
            return TLSReport.PolicyResult(
                policy: TLSReport.Policy(policyType: key.type, policyStrings: key.strings, policyDomain: key.domain,
                                         mxHosts: counts.mxHosts.sorted()),
                summary: TLSReport.Summary(totalSuccessfulSessionCount: counts.successes,
                                           totalFailureSessionCount: counts.failures.values.reduce(0, +)),
                failureDetails: details)
        }
        return TLSReport(organizationName: organizationName, dateRange: dateRange, contactInfo: contactInfo,
                         reportID: reportID, policies: results)
    }

    static func precedes(_ a: PolicyKey, _ b: PolicyKey) -> Bool {
        if (a.domain, a.type.rawValue) != (b.domain, b.type.rawValue) {
            return (a.domain, a.type.rawValue) < (b.domain, b.type.rawValue)
        }
        return a.strings.lexicographicallyPrecedes(b.strings)
    }

    /// No reason code sorts before any reason code, the empty one too.
    static func precedes(_ a: FailureKey, _ b: FailureKey) -> Bool {
        (a.resultType.rawValue, a.receivingMXHostname, a.receivingIP, a.sendingMTAIP,
         a.failureReasonCode == nil ? 0 : 1, a.failureReasonCode ?? "")
            < (b.resultType.rawValue, b.receivingMXHostname, b.receivingIP, b.sendingMTAIP,
               b.failureReasonCode == nil ? 0 : 1, b.failureReasonCode ?? "")
    }
}
