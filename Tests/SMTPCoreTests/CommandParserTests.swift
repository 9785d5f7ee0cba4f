import Testing
@testable import SMTPCore

@Suite struct CommandParserTests {
    func parse(_ line: String) -> Result<SMTPCommand, SMTPReply> {
        SMTPCommandParser.parse(Array(line.utf8))
    }

    func code(_ line: String) -> Int? {
        if case .failure(let reply) = parse(line) { return reply.code }
        return nil
    }

    @Test func simpleVerbsAreCaseInsensitive() throws {
        #expect(try parse("ehlo client.example").get() == .ehlo("client.example"))
        #expect(try parse("HELO x").get() == .helo("x"))
        #expect(try parse("data").get() == .data)
        #expect(try parse("Rset").get() == .rset)
        #expect(try parse("NOOP anything").get() == .noop)
        #expect(try parse("QUIT").get() == .quit)
        #expect(try parse("STARTTLS").get() == .startTLS)
        #expect(try parse("VRFY postmaster").get() == .vrfy)
        #expect(try parse("HELP").get() == .help)
    }

    @Test func mailWithParameters() throws {
        let command = try parse("MAIL FROM:<a@Corp.Example> SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=abc+2Bd AUTH=<>").get()
        var expected = MailParameters()
        expected.size = 1000
        expected.body = .eightBitMIME
        expected.smtpUTF8 = true
        expected.ret = .headers
        expected.envelopeID = "abc+2Bd"
        expected.auth = "<>"
        #expect(command == .mail(.mailbox(Mailbox(localPart: "a", domain: "corp.example")), expected))
    }

    @Test func nullSenderAndSpaceAfterColon() throws {
        #expect(try parse("MAIL FROM:<>").get() == .mail(.null, MailParameters()))
        #expect(try parse("MAIL FROM: <a@b.example>").get() == .mail(.mailbox(Mailbox(localPart: "a", domain: "b.example")), MailParameters()))
    }

    @Test func recipientWithDSNParameters() throws {
        var expected = RecipientParameters()
        expected.notify = Notify("SUCCESS,DELAY")
        expected.originalRecipient = "rfc822;b@example.org"
        #expect(try parse("RCPT TO:<b@example.org> NOTIFY=success,delay ORCPT=rfc822;b@example.org").get()
            == .rcpt(Mailbox(localPart: "b", domain: "example.org"), expected))
    }

    @Test func quotedLocalPartAndUTF8() throws {
        #expect(try parse(#"RCPT TO:<"john smith"@example.org>"#).get()
            == .rcpt(Mailbox(localPart: #""john smith""#, domain: "example.org"), RecipientParameters()))
        #expect(try parse("RCPT TO:<josé@exämple.org>").get()
            == .rcpt(Mailbox(localPart: "josé", domain: "exämple.org"), RecipientParameters()))
    }

    @Test(arguments: [
        ("MAIL FROM:<user%example.org@relay.example>", 553),
        ("MAIL FROM:<example.org!user@relay.example>", 553),
        ("RCPT TO:<@relay.example:user@example.org>", 553),
        ("RCPT TO:<user@[192.0.2.1]>", 553),
        ("RCPT TO:<user@@example.org>", 553),
        ("RCPT TO:<a@b@example.org>", 553),
        (#"RCPT TO:<"user@example.org">"#, 553),
        (#"RCPT TO:<"user@example.org"@relay.example>"#, 553),
        (#"RCPT TO:<"user%example.org"@relay.example>"#, 553),
        ("RCPT TO:<user.@example.org>", 553),
        ("RCPT TO:<user@-example.org>", 553),
        ("RCPT TO:<user>", 553),
        ("RCPT TO:user@example.org", 501),
        ("MAIL FROM:<a@b.example> FOO=1", 555),
        ("MAIL FROM:<a@b.example> BODY=BINARYMIME", 555),
        ("MAIL FROM:<a@b.example> SIZE=abc", 501),
        ("RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS", 501),
        ("BDAT", 501),
        ("BDAT 10 FIRST", 501),
        ("DATA now", 501),
        ("EHLO", 501),
        ("FOO", 500),
    ] as [(String, Int)])
    func refusedLines(line: String, expected: Int) {
        #expect(code(line) == expected, "\(line)")
    }

    @Test func bdat() throws {
        #expect(try parse("BDAT 100").get() == .bdat(size: 100, last: false))
        #expect(try parse("BDAT 0 LAST").get() == .bdat(size: 0, last: true))
        #expect(try parse("bdat 5 last").get() == .bdat(size: 5, last: true))
    }

    @Test func auth() throws {
        #expect(try parse("AUTH login").get() == .auth(mechanism: "LOGIN", initialResponse: nil))
        #expect(try parse("AUTH PLAIN AGRlbW8AZGVtbw==").get() == .auth(mechanism: "PLAIN", initialResponse: "AGRlbW8AZGVtbw=="))
    }

    @Test func invalidUTF8IsASyntaxError() {
        #expect(SMTPCommandParser.parse([0x4D, 0x41, 0x49, 0x4C, 0xFF]).isFailure)
    }
}

extension Result {
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}

@Suite struct MailboxCaseTests {
    /// Domains are lowercased in ASCII only: the stored address parses again
    /// (Unicode lowercasing can lengthen a label past 63 bytes: U+0130 → "i̇").
    @Test func storedDomainsParseAgain() throws {
        let label = String(repeating: "İ", count: 31) + "a"          // 63 bytes
        for address in ["a@EXAMPLE.Org", "b@\(label).example", "\"quoted x\"@Example.org"] {
            let parsed = try MailboxParser.parseMailbox(address[...]).get()
            #expect(try MailboxParser.parseMailbox("\(parsed)"[...]).get() == parsed)
        }
        #expect(try MailboxParser.parseMailbox("a@EXAMPLE.Org"[...]).get().domain == "example.org")
    }
}
