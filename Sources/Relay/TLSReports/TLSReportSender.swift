import Delivery
import Foundation
import LogEvents
import Logging
import MailQueue
import NIOPosix
import PolicyRecords
import SMTPCore
import TLSReporting

/// Sends the TLS reports of the days counted (RFC 8460 §4, §5): for each day and
/// policy domain, the domain's `_smtp._tls` record says where the report goes;
/// `mailto:` destinations get it as mail through Veil's own queue, `https:` ones
/// as a POST. The sessions reported are then taken off the counts.
///
/// One pass at a time (``TLSReportService`` sees to it). A day's sessions are
/// reported once the day is over; a domain whose record could not be looked up
/// (a DNS failure) is tried again at the next pass, until the end of the next day,
/// after which its sessions are dropped unsent: reports are best effort (§5.5),
/// and a late one is worth less than a bounded table.
struct TLSReportSender: Sendable {
    let spool: Spool
    let threadPool: NIOThreadPool
    let network: any TLSReportNetwork
    /// Nil: reports are off (`[tls_report] organization` unset).
    let settings: @Sendable () -> TLSReportSettings?
    let logger: Logger
    /// Report mail was queued: the queue runner has new mail.
    let onQueued: @Sendable () -> Void
    /// A new report's unique part (tests fix it).
    var uniqueID: @Sendable () -> String = TLSReportBatch.uniqueID

    /// What a pass did, for the administrator: a line per day and policy domain;
    /// `ok` false when it could not even start.
    struct Pass: Sendable, Equatable {
        var ok: Bool
        var lines: [String]
    }

    /// One pass at `now`: the days before today, and with `includingToday` today's
    /// sessions so far too (`veil tls report`).
    func send(now: Date, includingToday: Bool) async -> Pass {
        guard let settings = settings() else { return Pass(ok: false, lines: ["TLS reports are off: [tls_report] organization is not set"]) }
        let today = TLSSessionCount.day(of: now)
        let end = includingToday ? TLSSessionCount.day(of: now.addingTimeInterval(86_400)) : today
        let spool = self.spool
        let rows: [TLSSessionCount]
        do {
            rows = try await threadPool.runIfActive { try spool.tlsSessions(before: end) }
        } catch {
            logger.log(.queueError(queueID: nil, error: "TLS session counts not read: \(error)"))
            return Pass(ok: false, lines: ["the TLS session counts could not be read: \(error)"])
        }
        let (batches, unreadable) = TLSReportBatch.group(rows)
        if !unreadable.isEmpty {
            logger.log(.queueError(queueID: nil, error: "\(unreadable.count) TLS session count(s) not readable, dropped"))
            await uncount(unreadable)
        }
        let yesterday = TLSSessionCount.day(of: now.addingTimeInterval(-86_400))
        var lines: [String] = []
        for batch in batches {
            if batch.day < yesterday {
                logger.log(.tlsReportFailed(domain: batch.policyDomain, day: batch.day, to: nil,
                                            reason: "not sent by the end of the next day; dropped"))
                lines.append("\(batch.day) \(batch.policyDomain): too old, dropped unsent")
                await uncount(batch.rows)
                continue
            }
            let (line, done) = await send(batch, settings, now: now)
            lines.append("\(batch.day) \(batch.policyDomain): \(line)")
            if done { await uncount(batch.rows) }
        }
        return Pass(ok: true, lines: lines.isEmpty ? ["no TLS sessions counted"] : lines)
    }

    /// One report: where it goes, then to each destination. `done` is false when
    /// the record could not be looked up, so that the next pass tries again.
    private func send(_ batch: TLSReportBatch, _ settings: TLSReportSettings, now: Date) async -> (line: String, done: Bool) {
        let destinations: [TLSReportRecord.Destination]
        switch await network.reportRecord(for: batch.policyDomain) {
        case .failure(let failure):
            logger.log(.tlsReportFailed(domain: batch.policyDomain, day: batch.day, to: nil, reason: failure.reason))
            return ("not sent, tried again later: \(failure.reason)", false)
        case .success(.absent):
            return ("no _smtp._tls record, no report", true)
        case .success(.invalid(let why)):
            // §3: as if the domain did not implement TLSRPT.
            return ("_smtp._tls record not usable (\(why)), no report", true)
        case .success(.valid(let list)):
            destinations = list
        }
        let unique = uniqueID()
        let reportID = TLSReportBatch.reportID(day: batch.day, unique: unique, submitter: settings.submitter)
        let report = batch.report(organization: settings.organization, contact: settings.contact, reportID: reportID, now: now)
        var sent: [String] = []
        for destination in destinations {
            let to: String
            let outcome: Result<String?, TLSReportNotSent>
            switch destination {
            case .mail(let mailbox):
                to = "mailto:\(mailbox)"
                outcome = await queue(report, batch: batch, to: mailbox, unique: unique, settings, now: now).map(Optional.some)
            case .https(let url):
                to = url.absoluteString
                outcome = await post(report, to: url)
            }
            switch outcome {
            case .success(let queueID):
                logger.log(.tlsReportSent(domain: batch.policyDomain, day: batch.day, to: to, queueID: queueID,
                                          sessions: batch.sessionCount, reportID: reportID))
                sent.append(to)
            case .failure(let failure):
                logger.log(.tlsReportFailed(domain: batch.policyDomain, day: batch.day, to: to, reason: failure.reason))
            }
        }
        let count = "\(batch.sessionCount) session(s)"
        return (sent.isEmpty ? "\(count), the report reached none of its addresses (see the log)"
                             : "\(count) reported to \(sent.joined(separator: ", "))", true)
    }

    /// Signed, written and committed like accepted mail (blocking: the thread pool).
    private func queue(_ report: TLSReport, batch: TLSReportBatch, to: Mailbox, unique: String,
                       _ settings: TLSReportSettings, now: Date) async -> Result<String, TLSReportNotSent> {
        // TLSReportMail writes 7-bit header fields (§5.3 in A-labels).
        guard !to.needsSMTPUTF8 else { return .failure(TLSReportNotSent(reason: "an address in UTF-8 is not supported")) }
        let spool = self.spool
        do {
            let id = try await threadPool.runIfActive {
                let (text, envelope) = try settings.mail(report, policyDomain: batch.policyDomain, to: to, uniqueID: unique, now: now)
                return try spool.enqueue(text, envelope: envelope, receivedAt: now)
            }
            onQueued()
            return .success(id)
        } catch {
            return .failure(TLSReportNotSent(reason: "not queued: \(error)"))
        }
    }

    private func post(_ report: TLSReport, to url: URL) async -> Result<String?, TLSReportNotSent> {
        let body: [UInt8]
        do {
            body = try report.gzippedJSON()
        } catch {
            return .failure(TLSReportNotSent(reason: "the report could not be made: \(error)"))
        }
        if let failure = await network.post(body, to: url) { return .failure(failure) }
        return .success(nil)
    }

    /// Takes reported (or dropped) sessions off the counts.
    private func uncount(_ rows: [TLSSessionCount]) async {
        let spool = self.spool
        do {
            try await threadPool.runIfActive { try spool.uncountTLSSessions(rows) }
        } catch {
            logger.log(.queueError(queueID: nil, error: "TLS session counts not updated: \(error)"))
        }
    }
}
