import Foundation
import SMTPCore
import Testing
@testable import MailQueue

/// The TLS session counts of the queue database (RFC 8460 reports) and mail Veil
/// queues itself.
@Suite struct TLSSessionCountTests {
    @Test func countedReadAndUncounted() throws {
        let (spool, _) = try Spool.open(directory: temporaryDirectory())
        try spool.countTLSSessions([("2026-12-06", "a"), ("2026-12-06", "a"), ("2026-12-06", "b"), ("2026-12-07", "a")])
        #expect(try spool.tlsSessions(before: "2026-12-07") == [
            TLSSessionCount(day: "2026-12-06", session: "a", count: 2), TLSSessionCount(day: "2026-12-06", session: "b", count: 1),
        ])
        let read = try spool.tlsSessions(before: "2026-12-08")
        // Counted after the read: kept for the next report.
        try spool.countTLSSessions([("2026-12-07", "a")])
        try spool.uncountTLSSessions(read)
        #expect(try spool.tlsSessions(before: "2026-12-08") == [TLSSessionCount(day: "2026-12-07", session: "a", count: 1)])
    }

    @Test func ownMailIsQueuedWithItsEnvelope() throws {
        let directory = temporaryDirectory()
        let (spool, _) = try Spool.open(directory: directory)
        var envelope = Envelope(sender: .mailbox(Mailbox(localPart: "postmaster", domain: "relay.example")),
                                parameters: MailParameters(), clientName: "relay.example", authenticatedUser: nil,
                                protocolName: "ESMTP")
        var parameters = RecipientParameters()
        parameters.notify = Notify("NEVER")
        envelope.recipients = [Recipient(mailbox: Mailbox(localPart: "tlsrpt", domain: "example.org"), parameters: parameters)]
        let text = Array("From: postmaster@relay.example\r\n\r\nreport\r\n".utf8)
        let id = try spool.enqueue(text, envelope: envelope, receivedAt: Date())
        #expect(FileManager.default.contents(atPath: spool.messagePath(id)) == Data(text))
        let entry = try #require(try spool.entries(ids: [id]).first)
        #expect(entry.sender == "postmaster@relay.example")
        #expect(entry.recipients.map(\.address) == ["tlsrpt@example.org"])
        #expect(try spool.pendingJob(id)?.recipients.first?.notify == Notify("NEVER"))
    }
}
