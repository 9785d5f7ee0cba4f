// Longer than 300 lines: one suite for the client state machine, a case per reply sequence.

import NIOCore
import Testing
@testable import SMTPCore

/// The outbound session without sockets: server replies in, commands out.
@Suite struct ClientStateMachineTests {
    typealias Machine = SMTPClientStateMachine

    static func machine(tls: Machine.TLSPolicy = .opportunistic, credentials: Credentials? = nil) -> Machine {
        Machine(configuration: .init(heloName: "relay.example", tls: tls, credentials: credentials))
    }

    static let ehlo = SMTPReply(250, nil, ["mx.example", "SIZE 1000000", "8BITMIME", "DSN", "STARTTLS", "AUTH PLAIN LOGIN"])
    static let ok = SMTPReply(250, "2.0.0", "Ok")

    static func transaction(_ recipients: [String] = ["b@example.org"]) -> Machine.Transaction {
        var parameters = MailParameters()
        parameters.size = 1234
        parameters.ret = .headers
        var list: [Recipient] = []
        for address in recipients {
            var recipientParameters = RecipientParameters()
            recipientParameters.notify = Notify("FAILURE")
            list.append(Recipient(mailbox: Mailbox(localPart: String(address.split(separator: "@")[0]), domain: String(address.split(separator: "@")[1])),
                                  parameters: recipientParameters))
        }
        return .init(sender: .mailbox(Mailbox(localPart: "a", domain: "corp.example")), parameters: parameters, recipients: list)
    }

    @Test func startTLSThenTransactionWithDSNParameters() {
        var machine = Self.machine()
        #expect(machine.replyReceived(SMTPReply(220, nil, "mx.example ESMTP")) == .send("EHLO relay.example"))
        #expect(machine.replyReceived(Self.ehlo) == .send("STARTTLS"))
        #expect(machine.replyReceived(SMTPReply(220, "2.0.0", "Ready")) == .startTLS)
        #expect(machine.tlsEstablished() == .send("EHLO relay.example"))
        #expect(machine.replyReceived(Self.ehlo) == .ready)
        #expect(machine.tlsActive)
        #expect(machine.startTransaction(Self.transaction(["b@example.org", "c@example.org"]))
            == .send("MAIL FROM:<a@corp.example> SIZE=1234 RET=HDRS"))
        #expect(machine.replyReceived(Self.ok) == .send("RCPT TO:<b@example.org> NOTIFY=FAILURE"))
        #expect(machine.replyReceived(Self.ok) == .send("RCPT TO:<c@example.org> NOTIFY=FAILURE"))
        let refused = SMTPReply(550, "5.1.1", "No such user")
        #expect(machine.replyReceived(refused) == .send("DATA"))
        #expect(machine.replyReceived(SMTPReply(354, nil, "Go")) == .sendMessageText)
        machine.textSent()
        let queued = SMTPReply(250, "2.0.0", "Ok: queued as X")
        #expect(machine.replyReceived(queued) == .transactionFinished([.accepted(queued), .permanentFailure(refused)]))
        // The next message on the same connection starts with RSET.
        #expect(machine.startTransaction(Self.transaction()) == .send("RSET"))
        #expect(machine.replyReceived(Self.ok) == .ready)
        #expect(machine.startTransaction(Self.transaction()) == .send("MAIL FROM:<a@corp.example> SIZE=1234 RET=HDRS"))
        _ = machine.quit()
    }

    @Test func requiredTLSWithoutSTARTTLSFails() {
        var machine = Self.machine(tls: .required)
        _ = machine.replyReceived(SMTPReply(220, nil, "mx"))
        guard case .fail = machine.replyReceived(SMTPReply(250, nil, ["mx", "8BITMIME"])) else {
            Issue.record("delivered in plain text")
            return
        }
    }

    @Test func opportunisticTLSFallsBackToPlainText() {
        var machine = Self.machine()
        _ = machine.replyReceived(SMTPReply(220, nil, "mx"))
        #expect(machine.replyReceived(SMTPReply(250, nil, ["mx", "8BITMIME"])) == .ready)
        #expect(!machine.tlsActive)
        #expect(machine.startTransaction(Self.transaction()) == .send("MAIL FROM:<a@corp.example>"))
    }

    @Test func heloFallbackAndFailures() {
        var machine = Self.machine(tls: .none)
        _ = machine.replyReceived(SMTPReply(220, nil, "old"))
        #expect(machine.replyReceived(SMTPReply(502, "5.5.2", "What?")) == .send("HELO relay.example"))
        #expect(machine.replyReceived(SMTPReply(250, nil, "old")) == .ready)

        var busy = Self.machine()
        guard case .fail(_, let reply) = busy.replyReceived(SMTPReply(421, "4.3.2", "busy")) else { Issue.record("no fail"); return }
        #expect(reply?.code == 421)
    }

    @Test func mailAndDataRefusalsApplyToEveryRecipient() {
        var machine = Self.machine(tls: .none)
        _ = machine.replyReceived(SMTPReply(220, nil, "mx"))
        _ = machine.replyReceived(Self.ehlo)
        _ = machine.startTransaction(Self.transaction(["b@example.org", "c@example.org"]))
        let busy = SMTPReply(451, "4.3.0", "try later")
        #expect(machine.replyReceived(busy) == .transactionFinished([.transientFailure(busy), .transientFailure(busy)]))
        _ = machine.startTransaction(Self.transaction())
        _ = machine.replyReceived(Self.ok)
        _ = machine.startTransaction(Self.transaction())
        _ = machine.replyReceived(Self.ok)
        _ = machine.replyReceived(Self.ok)
        let rejected = SMTPReply(554, "5.6.0", "content rejected")
        _ = machine.replyReceived(SMTPReply(354, nil, "go"))
        machine.textSent()
        #expect(machine.replyReceived(rejected) == .transactionFinished([.permanentFailure(rejected)]))
    }

    @Test func smarthostAuthOnlyOverTLS() {
        var machine = Self.machine(tls: .required, credentials: Credentials(username: "u", password: "p"))
        _ = machine.replyReceived(SMTPReply(220, nil, "smarthost"))
        _ = machine.replyReceived(Self.ehlo)
        _ = machine.replyReceived(SMTPReply(220, nil, "go"))
        _ = machine.tlsEstablished()
        #expect(machine.replyReceived(Self.ehlo) == .send("AUTH PLAIN AHUAcA=="))
        #expect(machine.replyReceived(SMTPReply(235, "2.7.0", "ok")) == .ready)
    }

    @Test func brokenDataRepliesNeverCountAsDelivered() {
        var early = Self.machine(tls: .none)
        _ = early.replyReceived(SMTPReply(220, nil, "mx"))
        _ = early.replyReceived(Self.ehlo)
        _ = early.startTransaction(Self.transaction())
        _ = early.replyReceived(Self.ok)
        _ = early.replyReceived(Self.ok)
        guard case .fail = early.replyReceived(Self.ok) else { Issue.record("250 to DATA accepted"); return }

        var hasty = Self.machine(tls: .none)
        _ = hasty.replyReceived(SMTPReply(220, nil, "mx"))
        _ = hasty.replyReceived(Self.ehlo)
        _ = hasty.startTransaction(Self.transaction())
        _ = hasty.replyReceived(Self.ok)
        _ = hasty.replyReceived(Self.ok)
        _ = hasty.replyReceived(SMTPReply(354, nil, "go"))
        // A reply before the text is out: not the final reply.
        guard case .fail = hasty.replyReceived(Self.ok) else { Issue.record("reply during the text accepted"); return }
    }

    @Test func smarthostAuthLoginWhenPlainIsNotOffered() {
        var machine = Self.machine(tls: .required, credentials: Credentials(username: "u", password: "p"))
        let ehlo = SMTPReply(250, nil, ["exchange", "STARTTLS", "AUTH login"])
        _ = machine.replyReceived(SMTPReply(220, nil, "exchange"))
        _ = machine.replyReceived(ehlo)
        _ = machine.replyReceived(SMTPReply(220, nil, "go"))
        _ = machine.tlsEstablished()
        #expect(machine.replyReceived(ehlo) == .send("AUTH LOGIN"))
        #expect(machine.replyReceived(SMTPReply(334, nil, "VXNlcm5hbWU6")) == .send("dQ=="))
        #expect(machine.replyReceived(SMTPReply(334, nil, "UGFzc3dvcmQ6")) == .send("cA=="))
        #expect(machine.replyReceived(SMTPReply(235, "2.7.0", "ok")) == .ready)
    }

    @Test func pipelinedTransaction() {
        var machine = Self.machine(tls: .none)
        _ = machine.replyReceived(SMTPReply(220, nil, "mx"))
        _ = machine.replyReceived(SMTPReply(250, nil, ["mx", "PIPELINING", "DSN"]))
        #expect(machine.startTransaction(Self.transaction(["b@example.org", "c@example.org"])) == .sendLines([
            "MAIL FROM:<a@corp.example> RET=HDRS", "RCPT TO:<b@example.org> NOTIFY=FAILURE",
            "RCPT TO:<c@example.org> NOTIFY=FAILURE", "DATA",
        ]))
        #expect(machine.awaitsPipelinedReplies)
        let refused = SMTPReply(550, "5.1.1", "unknown")
        #expect(machine.replyReceived(Self.ok) == .none)
        #expect(machine.replyReceived(Self.ok) == .none)
        #expect(machine.replyReceived(refused) == .none)
        #expect(machine.replyReceived(SMTPReply(354, nil, "go")) == .sendMessageText)
        machine.textSent()
        #expect(machine.replyReceived(Self.ok) == .transactionFinished([.accepted(Self.ok), .permanentFailure(refused)]))

        // Every recipient refused: DATA's 554 ends the transaction, no text.
        _ = machine.startTransaction(Self.transaction())
        _ = machine.replyReceived(Self.ok)
        _ = machine.startTransaction(Self.transaction())
        _ = machine.replyReceived(Self.ok)
        _ = machine.replyReceived(refused)
        #expect(machine.replyReceived(SMTPReply(554, "5.5.1", "no valid recipients")) == .transactionFinished([.permanentFailure(refused)]))

        // A server that says 354 anyway gets a lone dot; the refusals stand.
        _ = machine.startTransaction(Self.transaction())
        _ = machine.replyReceived(Self.ok)
        _ = machine.startTransaction(Self.transaction())
        _ = machine.replyReceived(Self.ok)
        _ = machine.replyReceived(refused)
        #expect(machine.replyReceived(SMTPReply(354, nil, "go")) == .send("."))
        #expect(machine.replyReceived(SMTPReply(554, "5.5.1", "no recipients")) == .transactionFinished([.permanentFailure(refused)]))
    }

    /// RFC 3030: with CHUNKING the text goes in BDAT chunks, one reply each.
    @Test func chunkingReplacesData() {
        var machine = Self.machine(tls: .none)
        _ = machine.replyReceived(SMTPReply(220, nil, "mx"))
        _ = machine.replyReceived(SMTPReply(250, nil, ["mx", "CHUNKING"]))
        #expect(machine.startTransaction(Self.transaction()) == .send("MAIL FROM:<a@corp.example>"))
        #expect(machine.replyReceived(Self.ok) == .send("RCPT TO:<b@example.org>"))
        #expect(machine.replyReceived(Self.ok) == .sendChunk)
        // A reply before the chunk is written is out of step.
        var early = machine
        guard case .fail = early.replyReceived(Self.ok) else { Issue.record("reply before BDAT accepted"); return }
        machine.chunkReady(last: false)
        #expect(machine.replyReceived(Self.ok) == .sendChunk)
        machine.chunkReady(last: true)
        let queued = SMTPReply(250, "2.0.0", "queued")
        #expect(machine.replyReceived(queued) == .transactionFinished([.accepted(queued)]))

        // A refused chunk ends the transaction: no more chunks, RSET next.
        _ = machine.startTransaction(Self.transaction())
        _ = machine.replyReceived(Self.ok)
        _ = machine.startTransaction(Self.transaction())
        _ = machine.replyReceived(Self.ok)
        _ = machine.replyReceived(Self.ok)
        machine.chunkReady(last: false)
        let full = SMTPReply(452, "4.3.1", "disk full")
        #expect(machine.replyReceived(full) == .transactionFinished([.transientFailure(full)]))
        #expect(machine.startTransaction(Self.transaction()) == .send("RSET"))
    }

    @Test func pipelinedChunkingWaitsForARecipientBeforeTheText() {
        var machine = Self.machine(tls: .none)
        _ = machine.replyReceived(SMTPReply(220, nil, "mx"))
        _ = machine.replyReceived(SMTPReply(250, nil, ["mx", "PIPELINING", "CHUNKING"]))
        #expect(machine.startTransaction(Self.transaction(["b@example.org", "c@example.org"])) == .sendLines([
            "MAIL FROM:<a@corp.example>", "RCPT TO:<b@example.org>", "RCPT TO:<c@example.org>",
        ]))
        let refused = SMTPReply(550, "5.1.1", "unknown")
        #expect(machine.replyReceived(Self.ok) == .none)
        #expect(machine.replyReceived(refused) == .none)
        #expect(machine.replyReceived(Self.ok) == .sendChunk)
        machine.chunkReady(last: true)
        #expect(machine.replyReceived(Self.ok) == .transactionFinished([.permanentFailure(refused), .accepted(Self.ok)]))

        // Nobody accepted: no BDAT at all.
        _ = machine.startTransaction(Self.transaction())
        _ = machine.replyReceived(Self.ok)
        _ = machine.startTransaction(Self.transaction())
        _ = machine.replyReceived(Self.ok)
        #expect(machine.replyReceived(refused) == .transactionFinished([.permanentFailure(refused)]))
    }

    /// RFC 6531 §3.2: a UTF-8 address never goes to a server without SMTPUTF8.
    @Test func utf8AddressesNeedSMTPUTF8() {
        var transaction = Self.transaction(["jörg@example.org"])
        transaction.parameters.smtpUTF8 = true
        var plain = Self.machine(tls: .none)
        _ = plain.replyReceived(SMTPReply(220, nil, "mx"))
        _ = plain.replyReceived(SMTPReply(250, nil, ["mx", "8BITMIME"]))
        guard case .transactionFinished(let results) = plain.startTransaction(transaction),
              case .permanentFailure(let reply) = results.first else { Issue.record("sent a UTF-8 address"); return }
        #expect(reply.enhancedCode == "5.6.7")
        #expect(plain.quit() == .send("QUIT"))

        var capable = Self.machine(tls: .none)
        _ = capable.replyReceived(SMTPReply(220, nil, "mx"))
        _ = capable.replyReceived(SMTPReply(250, nil, ["mx", "SMTPUTF8"]))
        #expect(capable.startTransaction(transaction) == .send("MAIL FROM:<a@corp.example> SMTPUTF8"))
    }

    @Test func aServerWithOurOwnNameIsALoop() {
        var machine = Self.machine(tls: .none)
        _ = machine.replyReceived(SMTPReply(220, nil, "relay.example ESMTP"))
        guard case .fail(let reason, _) = machine.replyReceived(SMTPReply(250, nil, ["RELAY.example Hello", "PIPELINING"])) else {
            Issue.record("sent mail to itself")
            return
        }
        #expect(reason.contains("loops back to myself"))
    }

    @Test(arguments: ["relay.example", "out.example", "OUT.EXAMPLE"])
    func aServerWithAnyOfOurNamesIsALoop(greeting: String) {
        // helo_name = out.example, hostname = relay.example: both are this relay.
        var machine = SMTPClientStateMachine(configuration: .init(heloName: "out.example", ownNames: ["relay.example"],
                                                                  tls: .none, credentials: nil))
        _ = machine.replyReceived(SMTPReply(220, nil, "\(greeting) ESMTP"))
        guard case .fail(let reason, _) = machine.replyReceived(SMTPReply(250, nil, [greeting, "PIPELINING"])),
              reason.contains("loops back to myself") else {
            Issue.record("sent mail to itself")
            return
        }
        #expect(reason.contains("(the server calls itself \(greeting.lowercased()))"))
        // HELO after a refused EHLO is checked the same way.
        var helo = SMTPClientStateMachine(configuration: .init(heloName: "out.example", ownNames: ["relay.example"],
                                                               tls: .none, credentials: nil))
        _ = helo.replyReceived(SMTPReply(220, nil, "mx"))
        #expect(helo.replyReceived(SMTPReply(502, nil, "no")) == .send("HELO out.example"))
        guard case .fail = helo.replyReceived(SMTPReply(250, nil, greeting)) else { Issue.record("HELO loop missed"); return }
    }

    @Test func anotherNameIsNoLoop() {
        var machine = SMTPClientStateMachine(configuration: .init(heloName: "out.example", ownNames: ["relay.example"],
                                                                  tls: .none, credentials: nil))
        _ = machine.replyReceived(SMTPReply(220, nil, "mx"))
        if case .fail = machine.replyReceived(SMTPReply(250, nil, ["mx.partner.example", "PIPELINING"])) {
            Issue.record("a stranger taken for this relay")
        }
    }

    @Test func unsolicitedRepliesFailTheSession() {
        var machine = Self.machine(tls: .none)
        _ = machine.replyReceived(SMTPReply(220, nil, "mx"))
        _ = machine.replyReceived(Self.ehlo)
        guard case .fail = machine.replyReceived(Self.ok) else { Issue.record("accepted an unsolicited reply"); return }
    }
}

@Suite struct ReplyParserAndTextEncoderTests {
    func parse(_ text: String) -> [SMTPReplyParser.Result] {
        var parser = SMTPReplyParser()
        var buffer = ByteBuffer(string: text)
        var results: [SMTPReplyParser.Result] = []
        while true {
            let result = parser.next(from: &buffer)
            results.append(result)
            if result == .needMoreData || result == .invalid { return results }
        }
    }

    @Test func multiLineAndEnhancedCodes() {
        #expect(parse("250-mx.example\r\n250-SIZE 10\r\n250 DSN\r\n")
            == [.reply(SMTPReply(250, nil, ["mx.example", "SIZE 10", "DSN"])), .needMoreData])
        #expect(parse("550 5.1.1 No such user\r\n") == [.reply(SMTPReply(550, "5.1.1", "No such user")), .needMoreData])
        #expect(parse("220 ready\n") == [.reply(SMTPReply(220, nil, "ready")), .needMoreData])
        #expect(parse("250-a\r\n550 b\r\n").last == .invalid)
        #expect(parse("hello\r\n") == [.invalid])
        #expect(parse("250-partial\r\n250 ") == [.needMoreData])
    }

    func stuffed(_ pieces: [String], framing: OutboundTextEncoder.Framing = .data) -> String {
        var stuffer = OutboundTextEncoder(framing: framing)
        var output = ByteBuffer()
        for piece in pieces { stuffer.encode(ByteBuffer(string: piece), into: &output) }
        stuffer.finish(into: &output)
        return String(buffer: output)
    }

    @Test func dotStuffingAndLineEnds() {
        #expect(stuffed(["Subject: x\r\n\r\n.hidden\r\n..two\r\n"]) == "Subject: x\r\n\r\n..hidden\r\n...two\r\n.\r\n")
        #expect(stuffed(["a\nb\rc\r\n.", "d"]) == "a\r\nb\r\nc\r\n..d\r\n.\r\n")
        #expect(stuffed(["x\r", "\n.", "\r", "\n"]) == "x\r\n..\r\n.\r\n")
        #expect(stuffed([]) == ".\r\n")
        // A smuggling attempt in the spool never leaves as an end of data.
        #expect(!stuffed(["a\n.\nMAIL FROM:<x@y>\r\n"]).contains("\r\n.\r\nMAIL"))
    }

    @Test func bdatTextKeepsDotsAndCleansLineEnds() {
        #expect(stuffed(["Subject: x\r\n\r\n.hidden\r", "\n.\r\n"], framing: .bdat) == "Subject: x\r\n\r\n.hidden\r\n.\r\n")
        #expect(stuffed(["a\nb\rc"], framing: .bdat) == "a\r\nb\r\nc\r\n")
        #expect(stuffed([], framing: .bdat) == "")
    }
}
