import Foundation
import SMTPCore
import Testing
@testable import MailQueue

@Suite struct DeliveryStatusNotificationTests {
    let job = DeliveryJob(queueID: "Q1", sender: "a@corp.example", size: 10, body: nil, smtpUTF8: false, ret: nil,
                          envelopeID: "env1", receivedAt: Timestamp.parse("2026-11-30T00:00:00.000Z")!, recipients: [])
    /// From the null sender to the job's sender.
    let reportEnvelope: Envelope = {
        var envelope = Envelope(sender: .null, parameters: MailParameters(), clientName: "relay.example",
                                authenticatedUser: nil, protocolName: "ESMTP")
        envelope.recipients = [Recipient(mailbox: Mailbox(localPart: "a", domain: "corp.example"), parameters: RecipientParameters())]
        return envelope
    }()

    func notice(ret: String? = nil, remoteMTA: String = "[192.0.2.5]:25", originalRecipient: String? = "rfc822;b@example.org",
                diagnostic: String = "550 5.1.1 No such user\u{7}") -> DeliveryStatusNotification {
        var job = self.job
        job.ret = ret.flatMap(DSNReturn.init(rawValue:))
        return DeliveryStatusNotification(
            reportingHost: "relay.example", job: job,
            recipients: [.init(address: "b@example.org", originalRecipient: originalRecipient, action: .failed,
                               status: "5.1.1", remoteMTA: remoteMTA, diagnostic: diagnostic)],
            arrivalDate: "Mon, 30 Nov 2026 00:00:00 +0000", date: "Mon, 30 Nov 2026 01:00:00 +0000",
            messageID: "<r1@relay.example>", boundary: "=_b")
    }

    /// The report as the queue holds it: `original` queued, the report about it
    /// queued after it (copied from its file in chunks), read back.
    func queuedReport(_ notice: DeliveryStatusNotification, original: String) throws -> String {
        let directory = temporaryDirectory()
        let (spool, _) = try Spool.open(directory: directory)
        var notice = notice
        notice.job.queueID = try queue(original, in: spool)
        let id = try #require(try spool.enqueueReport(notice, envelope: reportEnvelope, receivedAt: Timestamp.parse("2026-11-30T01:00:00Z")!))
        return try String(decoding: Data(contentsOf: URL(fileURLWithPath: spool.messagePath(id))), as: UTF8.self)
    }

    func report(ret: String? = nil) throws -> String {
        try queuedReport(notice(ret: ret), original: "Subject: hi\r\nX-A: 1\r\n\r\nsecret body\r\n")
    }

    @Test func reportStructure() throws {
        let text = try report()
        #expect(text.hasPrefix("From: Mail Delivery System <MAILER-DAEMON@relay.example>\r\nTo: <a@corp.example>\r\n"))
        #expect(text.contains("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"=_b\"\r\n"))
        #expect(text.contains("Reporting-MTA: dns; relay.example\r\nOriginal-Envelope-Id: env1\r\n"))
        #expect(text.contains("Final-Recipient: rfc822; b@example.org\r\nOriginal-Recipient: rfc822;b@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"))
        #expect(text.contains("Diagnostic-Code: smtp; 550 5.1.1 No such user \r\n"))
        #expect(text.hasSuffix("Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\nX-A: 1\r\n\r\n--=_b--\r\n"))
        #expect(!text.contains("secret body"))
        #expect(try report(ret: "FULL").hasSuffix("Content-Type: message/rfc822\r\n\r\nSubject: hi\r\nX-A: 1\r\n\r\nsecret body\r\n\r\n--=_b--\r\n"))
        #expect(!text.utf8.contains { $0 >= 0x80 || $0 == 7 })
    }

    /// The closing delimiter starts on a line of its own (RFC 2046 §5.1.1).
    @Test(arguments: [
        ("FULL", "Subject: hi\r\n\r\nno line end", "message/rfc822\r\n\r\nSubject: hi\r\n\r\nno line end\r\n\r\n--=_b--\r\n"),
        ("FULL", "", "message/rfc822\r\n\r\n\r\n--=_b--\r\n"),
        ("HDRS", "Subject: no body", "text/rfc822-headers\r\n\r\nSubject: no body\r\n\r\n--=_b--\r\n"),
        ("HDRS", "Subject: hi\n\nLF ends\n", "text/rfc822-headers\r\n\r\nSubject: hi\n\r\n--=_b--\r\n"),
    ])
    func returnedTextEndsWithALineEnd(ret: String, original: String, ending: String) throws {
        #expect(try queuedReport(notice(ret: ret), original: original).hasSuffix("Content-Type: " + ending))
    }

    /// Nothing to return: no report, and nothing of one left in the spool.
    @Test func noReportWhenTheMessageFileIsMissing() throws {
        let directory = temporaryDirectory()
        let (spool, _) = try Spool.open(directory: directory)
        #expect(try spool.enqueueReport(notice(ret: "FULL"), envelope: reportEnvelope, receivedAt: Timestamp.parse("2026-11-30T01:00:00Z")!) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/incoming").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/messages").isEmpty)
        #expect(try spool.queuedCount() == 0)
    }

    /// MX names are bytes from DNS: only a host name goes into Remote-MTA.
    @Test(arguments: [
        ("mx.example[192.0.2.7]:25", "mx.example[192.0.2.7]:25"),
        ("MX-1.Example.ORG[2001:db8::1]:25", "MX-1.Example.ORG[2001:db8::1]:25"),
        ("[192.0.2.5]:25", "[192.0.2.5]:25"),
        ("[smtp.partner.example]:587", "[smtp.partner.example]:587"),
        ("mx\r\nbcc: x@evil.example[192.0.2.7]:25", "[192.0.2.7]:25"),
        ("mx\nInjected: yes.example[192.0.2.7]:25", "[192.0.2.7]:25"),
        ("mx.exämple[192.0.2.7]:25", "[192.0.2.7]:25"),
        ("mx..example[192.0.2.7]:25", "[192.0.2.7]:25"),
        ("mx_1.example[192.0.2.7]:25", "[192.0.2.7]:25"),
        ("mx.example [192.0.2.7]:25", "[192.0.2.7]:25"),
        (String(repeating: "a", count: 64) + ".example[192.0.2.7]:25", "[192.0.2.7]:25"),
        ("mx[fake]\r\n.example[192.0.2.7]:25", "[192.0.2.7]:25"),
        ("[bad\r\nhost]:25", "[badhost]:25"),
        ("\r\n", nil),
    ] as [(String, String?)])
    func remoteMTAIsAHostNameOrLeftOut(relay: String, expected: String?) {
        #expect(DeliveryStatusNotification.mtaName(relay) == expected)
    }

    @Test func remoteMTAFromDNSCannotInjectFields() throws {
        let text = try queuedReport(notice(remoteMTA: "mx\r\nInjected: yes\u{e9}.example[192.0.2.7]:25", originalRecipient: nil,
                                           diagnostic: "550 5.1.1 No"),
                                    original: "Subject: hi\r\n\r\n")
        #expect(text.contains("Status: 5.1.1\r\nRemote-MTA: dns; [192.0.2.7]:25\r\nDiagnostic-Code:"))
        #expect(!text.contains("Injected"))
        #expect(!text.utf8.contains { $0 >= 0x80 })
    }

    @Test func statusFromReplies() {
        #expect(DeliveryStatusNotification.status(fromReply: "550 5.1.1 No such user", fallback: "5.0.0") == "5.1.1")
        #expect(DeliveryStatusNotification.status(fromReply: "554 Rejected", fallback: "5.0.0") == "5.0.0")
        #expect(DeliveryStatusNotification.status(fromReply: "451 4.3.0 busy", fallback: "4.4.7") == "4.3.0")
        #expect(DeliveryStatusNotification.status(fromReply: "connect to x: refused", fallback: "4.4.7") == "4.4.7")
    }
}
