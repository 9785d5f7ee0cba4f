import Delivery
import DKIM
import Foundation
import LogEvents
import MailQueue
import NIOConcurrencyHelpers
import NIOPosix
import PolicyRecords
import ServiceLifecycleTestKit
import SMTPCore
import Testing
import TLSReporting
@testable import Relay

/// The TLS report sender against a real spool and a scripted network: which days
/// and domains get a report, where it goes, what it says, what is left counted.
@Suite struct TLSReportSenderTests {
    /// 2026-12-08T09:30:00Z: "yesterday" is 2026-12-07.
    static let now = Timestamp.parse("2026-12-08T09:30:00Z")!

    /// Answers `_smtp._tls` lookups from a table (a domain not in it has no record,
    /// one mapped to nil fails for now) and records the POSTs.
    final class ScriptedNetwork: TLSReportNetwork, Sendable {
        let records: [String: TLSReportRecord?]
        let posts = NIOLockedValueBox<[(url: URL, body: [UInt8])]>([])
        let lookups = NIOLockedValueBox<[String]>([])

        init(_ records: [String: TLSReportRecord?]) {
            self.records = records
        }

        func reportRecord(for domain: String) async -> Result<TLSReportRecord, TLSReportNotSent> {
            lookups.withLockedValue { $0.append(domain) }
            guard let record = records[domain] else { return .success(.absent) }
            return record.map { .success($0) } ?? .failure(TLSReportNotSent(reason: "SERVFAIL"))
        }

        func post(_ report: [UInt8], to url: URL) async -> TLSReportNotSent? {
            posts.withLockedValue { $0.append((url, report)) }
            return nil
        }
    }

    static func session(_ domain: String, _ resultType: TLSResultType? = nil, type: TLSReport.PolicyType = .sts,
                        ip: String = "192.0.2.25") -> TLSSessionResult {
        TLSSessionResult(policyDomain: domain, policyType: type, policyStrings: type == .sts ? ["version: STSv1", "mode: enforce"] : [],
                         mxHosts: type == .sts ? ["*.\(domain)"] : [], sendingMTAIP: "198.51.100.1",
                         receivingMXHostname: "mx.\(domain)", receivingIP: ip, resultType: resultType)
    }

    /// As the recorder writes them: JSON with sorted keys.
    static func row(_ result: TLSSessionResult) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try! encoder.encode(result), as: UTF8.self)
    }

    static let mailbox = Mailbox(localPart: "tlsrpt", domain: "reports.example")
    static let key = try! SigningKey.generate(rsaBits: nil)
    static let settings = TLSReportSettings(
        organization: "Relay Org", contact: "tls@relay.example", from: Mailbox(localPart: "postmaster", domain: "relay.example"),
        hostname: "relay.example",
        keyring: Keyring(entries: [.init(domain: "relay.example", selector: "ed", key: key, subdomains: true)], asciiDomain: { $0 }))

    struct Harness {
        let spool: Spool
        let network: ScriptedNetwork
        let sender: TLSReportSender
        let log: LogRecorder
        let queued: NIOLockedValueBox<Int>

        func count(_ sessions: [(day: String, result: TLSSessionResult)]) throws {
            try spool.countTLSSessions(sessions.map { (day: $0.day, session: TLSReportSenderTests.row($0.result)) })
        }

        func left() throws -> [TLSSessionCount] {
            try spool.tlsSessions(before: "9999-12-31")
        }
    }

    func withHarness(_ records: [String: TLSReportRecord?], settings: TLSReportSettings? = Self.settings,
                     _ body: (Harness) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "veil-tlsrpt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let threads = NIOThreadPool(numberOfThreads: 2)
        threads.start()
        let (spool, _) = try Spool.open(directory: directory)
        let network = ScriptedNetwork(records)
        let log = LogRecorder()
        let queued = NIOLockedValueBox(0)
        var sender = TLSReportSender(spool: spool, threadPool: threads, network: network, settings: { settings },
                                     logger: log.logger, onQueued: { queued.withLockedValue { $0 += 1 } })
        sender.uniqueID = { "u1" }
        try await body(Harness(spool: spool, network: network, sender: sender, log: log, queued: queued))
        try await threads.shutdownGracefully()
    }

    @Test func rowsAreGroupedByDayAndPolicyDomain() {
        let rows = [
            TLSSessionCount(day: "2026-12-07", session: Self.row(Self.session("b.example")), count: 2),
            TLSSessionCount(day: "2026-12-06", session: Self.row(Self.session("b.example", .starttlsNotSupported)), count: 1),
            TLSSessionCount(day: "2026-12-07", session: Self.row(Self.session("A.example", .starttlsNotSupported)), count: 3),
            TLSSessionCount(day: "2026-12-07", session: Self.row(Self.session("b.example", .certificateExpired)), count: 1),
            TLSSessionCount(day: "2026-12-07", session: "{\"not\": \"a session\"}", count: 1),
            TLSSessionCount(day: "yesterday", session: Self.row(Self.session("b.example")), count: 1),
        ]
        let (batches, unreadable) = TLSReportBatch.group(rows)
        #expect(batches.map { "\($0.day) \($0.policyDomain) \($0.sessionCount)" }
                == ["2026-12-06 b.example 1", "2026-12-07 a.example 3", "2026-12-07 b.example 3"])
        #expect(unreadable.map(\.session) == ["{\"not\": \"a session\"}", rows[5].session])
        let report = batches[2].report(organization: "O", contact: "c@relay.example", reportID: "r", now: Self.now)
        #expect(report.policies.map(\.summary) == [.init(totalSuccessfulSessionCount: 2, totalFailureSessionCount: 1)])
        #expect(report.dateRange == TLSReport.DateRange(utcDayContaining: Timestamp.parse("2026-12-07T12:00:00Z")!))
        // Today's sessions so far: the range ends now.
        let today = TLSReportBatch.group([TLSSessionCount(day: "2026-12-08", session: rows[0].session, count: 1)]).batches[0]
        #expect(today.report(organization: "O", contact: "c", reportID: "r", now: Self.now).dateRange.end == Self.now)
        #expect(TLSReportBatch.reportID(day: "2026-12-07", unique: "u1", submitter: "relay.example") == "20261207.u1@relay.example")
    }

    @Test func eachDomainWithARecordGetsItsReportAndTheRowsGo() async throws {
        let url = URL(string: "https://reports.example/tlsrpt")!
        try await withHarness(["mail.example": .valid([.mail(Self.mailbox)]), "web.example": .valid([.https(url)]),
                               "down.example": nil]) { harness in
            try harness.count([("2026-12-07", Self.session("mail.example")), ("2026-12-07", Self.session("mail.example")),
                               ("2026-12-07", Self.session("mail.example", .starttlsNotSupported)),
                               ("2026-12-07", Self.session("web.example", .certificateHostMismatch)),
                               ("2026-12-07", Self.session("quiet.example")), ("2026-12-07", Self.session("down.example")),
                               ("2026-12-08", Self.session("mail.example"))])
            let pass = await harness.sender.send(now: Self.now, includingToday: false)
            #expect(pass.ok)
            #expect(pass.lines == [
                "2026-12-07 down.example: not sent, tried again later: SERVFAIL",
                "2026-12-07 mail.example: 3 session(s) reported to mailto:tlsrpt@reports.example",
                "2026-12-07 quiet.example: no _smtp._tls record, no report",
                "2026-12-07 web.example: 1 session(s) reported to https://reports.example/tlsrpt",
            ])
            // Today's and the domain to try again are left.
            #expect(try harness.left().map { "\($0.day) \($0.count)" } == ["2026-12-07 1", "2026-12-08 1"])
            #expect(try harness.left().first.map { $0.session.contains("down.example") } == true)

            let expected = TLSReportTally([Self.session("web.example", .certificateHostMismatch)])
                .report(organizationName: "Relay Org", contactInfo: "tls@relay.example", reportID: "20261207.u1@relay.example",
                        dateRange: .init(utcDayContaining: Timestamp.parse("2026-12-07T00:00:00Z")!))
            let posts = harness.network.posts.withLockedValue { $0 }
            #expect(posts.map(\.url) == [url])
            #expect(posts.first?.body == (try expected.gzippedJSON()))

            let entries = try harness.spool.entries()
            #expect(entries.count == 1)
            let entry = try #require(entries.first)
            #expect(entry.sender == "postmaster@relay.example" && entry.recipients.map(\.address) == ["tlsrpt@reports.example"])
            #expect(try harness.spool.pendingJob(entry.id)?.recipients.first?.notify == Notify("NEVER"))
            #expect(harness.queued.withLockedValue { $0 } == 1)
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: harness.spool.messagePath(entry.id))), as: UTF8.self)
            #expect(text.hasPrefix("DKIM-Signature: v=1; a=ed25519-sha256;"))
            #expect(text.contains("TLS-Report-Domain: mail.example\r\n") && text.contains("Report-ID: <20261207.u1@relay.example>"))
            #expect(text.contains("filename=\"relay.example!mail.example!1796601600!1796687999!u1.json.gz\""))
            let signed = text.components(separatedBy: "h=")[1].prefix { $0 != ";" }.filter { !$0.isWhitespace }
            #expect(signed.contains("tls-report-domain:tls-report-domain:tls-report-submitter:tls-report-submitter"))

            #expect(harness.log.lines.filter { $0.name == "tls_report_sent" }.map { $0.metadata["domain"]?.description }
                    == ["mail.example", "web.example"])
            #expect(harness.log.lines.contains(LogRecorder.Line(.tlsReportFailed(domain: "down.example", day: "2026-12-07", to: nil,
                                                                                  reason: "SERVFAIL"))))
        }
    }

    @Test func todaysSessionsOnlyWhenAsked() async throws {
        try await withHarness(["mail.example": .valid([.mail(Self.mailbox)])]) { harness in
            try harness.count([("2026-12-08", Self.session("mail.example"))])
            #expect(await harness.sender.send(now: Self.now, includingToday: false).lines == ["no TLS sessions counted"])
            #expect(try harness.left().count == 1)
            let pass = await harness.sender.send(now: Self.now, includingToday: true)
            #expect(pass.lines == ["2026-12-08 mail.example: 1 session(s) reported to mailto:tlsrpt@reports.example"])
            #expect(try harness.left().isEmpty)
        }
    }

    /// A domain whose record could not be looked up is tried until the end of the
    /// next day; older sessions go unsent. Unreadable rows go too.
    @Test func oldAndUnreadableRowsAreDropped() async throws {
        try await withHarness(["down.example": nil]) { harness in
            try harness.count([("2026-12-06", Self.session("down.example"))])
            try harness.spool.countTLSSessions([("2026-12-07", "garbage")])
            let pass = await harness.sender.send(now: Self.now, includingToday: false)
            #expect(pass.lines == ["2026-12-06 down.example: too old, dropped unsent"])
            #expect(try harness.left().isEmpty)
            #expect(harness.network.lookups.withLockedValue { $0 }.isEmpty)
        }
    }

    /// The service makes a pass at start and one per `veil tls report`, one at a
    /// time; a graceful shutdown ends it, and a request after that is answered.
    @Test func theServicePassesAndStops() async throws {
        try await withHarness(["mail.example": .valid([.mail(Self.mailbox)])]) { harness in
            let today = TLSSessionCount.day(of: Date())
            try harness.count([(today, Self.session("mail.example")), ("2020-01-01", Self.session("old.example"))])
            let service = TLSReportService(sender: harness.sender)
            try await testGracefulShutdown { trigger in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await service.run() }
                    let pass = await service.sendNow()
                    #expect(pass.lines.contains("\(today) mail.example: 1 session(s) reported to mailto:tlsrpt@reports.example"))
                    trigger.triggerGracefulShutdown()
                    try await group.waitForAll()
                }
            }
            #expect(try harness.left().isEmpty)
            #expect(await service.sendNow() == .init(ok: false, lines: ["veil is stopping: no reports sent"]))
        }
    }

    @Test func nothingIsSentWhenReportsAreOff() async throws {
        try await withHarness(["mail.example": .valid([.mail(Self.mailbox)])], settings: nil) { harness in
            try harness.count([("2026-12-07", Self.session("mail.example"))])
            #expect(await harness.sender.send(now: Self.now, includingToday: true).ok == false)
            #expect(try harness.left().count == 1 && harness.spool.entries().isEmpty)
        }
    }
}
