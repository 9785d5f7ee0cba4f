import Testing
@testable import MailQueue

@Suite struct DeliveryStatusNotificationTests {
    let job = DeliveryJob(messageID: "Q1", sender: "a@corp.example", size: 10, body: nil, smtpUTF8: false, ret: nil,
                          envelopeID: "env1", receivedAt: "2026-11-30T00:00:00.000Z", recipients: [])

    func report(ret: String? = nil) -> String {
        var job = self.job
        job.ret = ret
        let notice = DeliveryStatusNotification(
            reportingHost: "relay.example", job: job,
            recipients: [.init(address: "b@example.org", originalRecipient: "rfc822;b@example.org", action: "failed",
                               status: "5.1.1", remoteMTA: "[192.0.2.5]:25", diagnostic: "550 5.1.1 No such user\u{7}")],
            arrivalDate: "Mon, 30 Nov 2026 00:00:00 +0000", date: "Mon, 30 Nov 2026 01:00:00 +0000",
            messageID: "<r1@relay.example>", boundary: "=_b")
        return String(decoding: notice.render(original: Array("Subject: hi\r\nX-A: 1\r\n\r\nsecret body\r\n".utf8)), as: UTF8.self)
    }

    @Test func reportStructure() {
        let text = report()
        #expect(text.hasPrefix("From: Mail Delivery System <MAILER-DAEMON@relay.example>\r\nTo: <a@corp.example>\r\n"))
        #expect(text.contains("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"=_b\"\r\n"))
        #expect(text.contains("Reporting-MTA: dns; relay.example\r\nOriginal-Envelope-Id: env1\r\n"))
        #expect(text.contains("Final-Recipient: rfc822; b@example.org\r\nOriginal-Recipient: rfc822;b@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"))
        #expect(text.contains("Diagnostic-Code: smtp; 550 5.1.1 No such user \r\n"))
        #expect(text.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\nX-A: 1\r\n\r\n--=_b--\r\n"))
        #expect(!text.contains("secret body"))
        #expect(report(ret: "FULL").contains("Content-Type: message/rfc822\r\n\r\nSubject: hi\r\nX-A: 1\r\n\r\nsecret body\r\n"))
        #expect(!text.utf8.contains { $0 >= 0x80 || $0 == 7 })
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

    @Test func remoteMTAFromDNSCannotInjectFields() {
        let notice = DeliveryStatusNotification(
            reportingHost: "relay.example", job: job,
            recipients: [.init(address: "b@example.org", originalRecipient: nil, action: "failed", status: "5.1.1",
                               remoteMTA: "mx\r\nInjected: yes\u{e9}.example[192.0.2.7]:25", diagnostic: "550 5.1.1 No")],
            arrivalDate: "Mon, 30 Nov 2026 00:00:00 +0000", date: "Mon, 30 Nov 2026 01:00:00 +0000",
            messageID: "<r1@relay.example>", boundary: "=_b")
        let text = String(decoding: notice.render(original: Array("Subject: hi\r\n\r\n".utf8)), as: UTF8.self)
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
