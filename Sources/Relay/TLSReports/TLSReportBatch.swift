import Foundation
import MailQueue
import TLSReporting

/// What one TLS report covers (RFC 8460 §4): the sessions of one UTC day held to
/// one policy domain's policy, as counted in the queue database, with the rows
/// they were read from (taken off once the report is sent). Pure.
struct TLSReportBatch: Sendable {
    /// `2026-12-07`.
    var day: String
    /// Its first second, 00:00:00Z.
    var start: Date
    /// Where the report goes: the `_smtp._tls` record of this domain (§3).
    var policyDomain: String
    var sessions: [(result: TLSSessionResult, count: Int)]
    var rows: [TLSSessionCount]

    /// Sessions in all, successful and failed.
    var sessionCount: Int { rows.reduce(0) { $0 + $1.count } }

    /// The rows grouped by day and policy domain, in that order; rows that are not
    /// a `TLSSessionResult` of a day (written by another version) come back apart.
    static func group(_ rows: [TLSSessionCount]) -> (batches: [TLSReportBatch], unreadable: [TLSSessionCount]) {
        var batches: [String: [String: TLSReportBatch]] = [:]
        var unreadable: [TLSSessionCount] = []
        let decoder = JSONDecoder()
        for row in rows {
            guard let start = Self.start(of: row.day),
                  let result = try? decoder.decode(TLSSessionResult.self, from: Data(row.session.utf8)) else {
                unreadable.append(row)
                continue
            }
            let domain = result.policyDomain.lowercased()
            let empty = TLSReportBatch(day: row.day, start: start, policyDomain: domain, sessions: [], rows: [])
            batches[row.day, default: [:]][domain, default: empty].add(result, row)
        }
        let grouped = batches.sorted { $0.key < $1.key }.flatMap { _, domains in
            domains.sorted { $0.key < $1.key }.map(\.value)
        }
        return (grouped, unreadable)
    }

    private mutating func add(_ result: TLSSessionResult, _ row: TLSSessionCount) {
        sessions.append((result, row.count))
        rows.append(row)
    }

    /// The report (§4.4). `now` ends the date range when the day is not over yet
    /// (`veil tls report` sends today's sessions so far); a past day is the whole
    /// day, 00:00:00Z to 23:59:59Z.
    func report(organization: String, contact: String, reportID: String, now: Date) -> TLSReport {
        var range = TLSReport.DateRange(utcDayContaining: start)
        if range.end > now { range.end = now }
        var tally = TLSReportTally()
        for (result, count) in sessions { tally.add(result, sessions: count) }
        return tally.report(organizationName: organization, contactInfo: contact, reportID: reportID, dateRange: range)
    }

    /// The report-id (§4.4), which the mail's Subject carries as a msg-id (§5.3):
    /// `20261207.UNIQUE@submitter`, unique per report.
    static func reportID(day: String, unique: String, submitter: String) -> String {
        "\(day.filter { $0 != "-" }).\(unique)@\(submitter)"
    }

    /// Letters and digits, different for every report: the report-id's and the
    /// attachment name's `unique-id` (§5.1).
    static func uniqueID() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() as UInt64, radix: 36)
    }

    /// Midnight (UTC) at the start of `day`; nil when it is not a day.
    static func start(of day: String) -> Date? {
        guard day.utf8.count == 10, let start = Timestamp.parse(day + "T00:00:00Z"), TLSSessionCount.day(of: start) == day else { return nil }
        return start
    }
}
