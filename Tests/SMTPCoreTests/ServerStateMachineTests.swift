import NIOCore
import Testing
@testable import SMTPCore

/// The server session without sockets: each test is a dialogue of client lines and
/// the reply codes (or actions) expected.
@Suite struct ServerStateMachineTests {
    static func machine(tls: TLSMode = .starttls, auth: AuthMode = .required, relayClient: Bool = false,
                        maximumRecipients: Int = 3, maximumErrors: Int = 20) -> SMTPServerStateMachine {
        SMTPServerStateMachine(
            configuration: SMTPServerConfiguration(hostname: "relay.example", tlsMode: tls, authMode: auth,
                                                   maximumMessageSize: 1000, maximumRecipients: maximumRecipients,
                                                   maximumErrors: maximumErrors),
            isRelayClient: relayClient)
    }

    /// A MAIL that passes the session's checks is admitted, as by a relay with space.
    func send(_ machine: inout SMTPServerStateMachine, _ line: String) -> SMTPServerStateMachine.Action {
        let action = machine.lineReceived(ByteBuffer(string: line))
        if case .admitTransaction(let envelope) = action { return machine.transactionAdmitted(envelope, refusal: nil) }
        return action
    }

    func code(_ action: SMTPServerStateMachine.Action) -> Int? {
        switch action {
        case .reply(let reply), .replyAndClose(let reply), .startTLS(let reply), .receiveData(let reply):
            return reply.code
        default:
            return nil
        }
    }

    func ehloLines(_ machine: inout SMTPServerStateMachine) -> [String] {
        guard case .reply(let reply) = send(&machine, "EHLO client.example") else { return [] }
        return reply.lines
    }

    @Test func ehloAdvertisesExtensionsAndAuthOnlyAfterTLS() {
        var machine = Self.machine()
        let before = ehloLines(&machine)
        #expect(before == ["relay.example", "PIPELINING", "SIZE 1000", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
                           "CHUNKING", "DSN", "STARTTLS"])
        #expect(send(&machine, "STARTTLS") == .startTLS(SMTPReply(220, "2.0.0", "Ready to start TLS")))
        let after = ehloLines(&machine)
        #expect(after.contains("AUTH PLAIN LOGIN"))
        #expect(!after.contains("STARTTLS"))
        #expect(code(send(&machine, "STARTTLS")) == 503)
    }

    @Test func authIsOfferedInPlainTextOnlyWithoutTLS() {
        var machine = Self.machine(tls: .none)
        #expect(ehloLines(&machine).contains("AUTH PLAIN LOGIN"))
        var starttls = Self.machine()
        _ = ehloLines(&starttls)
        #expect(code(send(&starttls, "AUTH LOGIN")) == 538)
    }

    @Test func startTLSForgetsTheSession() {
        var machine = Self.machine(relayClient: true)
        _ = ehloLines(&machine)
        _ = send(&machine, "STARTTLS")
        #expect(code(send(&machine, "MAIL FROM:<a@b.example>")) == 503)
        _ = ehloLines(&machine)
        #expect(code(send(&machine, "MAIL FROM:<a@b.example>")) == 250)
    }

    @Test func authLoginWithAndWithoutInitialResponse() {
        for first in ["AUTH LOGIN", "AUTH LOGIN ZGVtbw=="] {
            var machine = Self.machine(tls: .implicit)
            _ = ehloLines(&machine)
            if first == "AUTH LOGIN" {
                #expect(send(&machine, first) == .reply(SMTPReply(334, nil, "VXNlcm5hbWU6")))
                #expect(machine.expectsAuthResponse)
                #expect(send(&machine, "ZGVtbw==") == .reply(SMTPReply(334, nil, "UGFzc3dvcmQ6")))
            } else {
                #expect(send(&machine, first) == .reply(SMTPReply(334, nil, "UGFzc3dvcmQ6")))
            }
            #expect(send(&machine, "c2VjcmV0") == .verifyCredentials(Credentials(username: "demo", password: "secret"), .login))
            let user = AuthenticatedUser(name: "demo", allowedDomains: ["corp.example"])
            #expect(code(machine.authenticationFinished(.success(user))) == 235)
            #expect(code(send(&machine, "AUTH PLAIN AGRlbW8Ac2VjcmV0")) == 503)
            #expect(code(send(&machine, "MAIL FROM:<a@other.example>")) == 553)
            #expect(code(send(&machine, "MAIL FROM:<a@corp.example>")) == 250)
            #expect(code(send(&machine, "RCPT TO:<b@example.org>")) == 250)
        }
    }

    @Test func authFailuresAndCancel() {
        var machine = Self.machine(tls: .implicit)
        _ = ehloLines(&machine)
        #expect(code(send(&machine, "AUTH CRAM-MD5")) == 504)
        _ = send(&machine, "AUTH PLAIN")
        #expect(code(send(&machine, "*")) == 501)
        #expect(code(send(&machine, "AUTH PLAIN !!!")) == 501)
        _ = send(&machine, "AUTH PLAIN AGRlbW8Ad3Jvbmc=")
        #expect(code(machine.authenticationFinished(.invalidCredentials)) == 535)
        _ = send(&machine, "AUTH PLAIN AGRlbW8Ad3Jvbmc=")
        #expect(code(machine.authenticationFinished(.lockedOut)) == 454)
        _ = send(&machine, "AUTH PLAIN AGRlbW8Ad3Jvbmc=")
        #expect(machine.authenticationFinished(.busy) == .reply(SMTPReply(454, "4.7.0", "Error: too many authentication attempts, try again later")))
        #expect(code(send(&machine, "MAIL FROM:<a@b.example>")) == 530)
    }

    @Test func aTransactionTheRelayRefusesDoesNotStart() {
        var machine = Self.machine(tls: .none, auth: .off, relayClient: true)
        _ = send(&machine, "EHLO client.example")
        guard case .admitTransaction(let envelope) = machine.lineReceived(ByteBuffer(string: "MAIL FROM:<a@b.example>")) else {
            Issue.record("MAIL was not put to the relay")
            return
        }
        #expect(envelope.sender == .mailbox(Mailbox(localPart: "a", domain: "b.example")))
        #expect(machine.transactionAdmitted(envelope, refusal: Replies.diskFull) == .reply(Replies.diskFull))
        #expect(code(send(&machine, "RCPT TO:<c@d.example>")) == 503)
        #expect(code(send(&machine, "MAIL FROM:<a@b.example>")) == 250)
        #expect(code(send(&machine, "RCPT TO:<c@d.example>")) == 250)
    }

    @Test func noOpenRelay() {
        var optional = Self.machine(tls: .none, auth: .optional)
        _ = ehloLines(&optional)
        #expect(code(send(&optional, "MAIL FROM:<a@b.example>")) == 250)
        #expect(code(send(&optional, "RCPT TO:<c@d.example>")) == 554)
        #expect(code(send(&optional, "DATA")) == 503)

        var required = Self.machine()
        _ = ehloLines(&required)
        #expect(code(send(&required, "MAIL FROM:<>")) == 530)
        #expect(code(send(&required, "RCPT TO:<c@d.example>")) == 503)
    }

    @Test func transactionOrderAndLimits() {
        var machine = Self.machine(relayClient: true)
        #expect(code(send(&machine, "MAIL FROM:<a@b.example>")) == 503)
        _ = ehloLines(&machine)
        #expect(code(send(&machine, "RCPT TO:<c@d.example>")) == 503)
        #expect(code(send(&machine, "MAIL FROM:<a@b.example> SIZE=1001")) == 552)
        #expect(code(send(&machine, "MAIL FROM:<a@b.example> SIZE=1000")) == 250)
        #expect(code(send(&machine, "MAIL FROM:<a@b.example>")) == 503)
        #expect(code(send(&machine, "DATA")) == 503)
        for _ in 0..<3 { #expect(code(send(&machine, "RCPT TO:<c@d.example>")) == 250) }
        #expect(send(&machine, "RCPT TO:<c@d.example>") == .reply(SMTPReply(452, "4.5.3", "Error: too many recipients")))
        #expect(code(send(&machine, "RCPT TO:<josé@d.example>")) == 553)
        guard case .receiveData = send(&machine, "DATA") else { Issue.record("no 354"); return }
        guard case .storeMessage(let envelope) = machine.messageReceived(rejection: nil) else { Issue.record("no store"); return }
        #expect(envelope.recipients.count == 3)
        #expect(envelope.protocolName == "ESMTP")
        #expect(code(machine.messageStored(queueID: "Q1")) == 250)
        #expect(code(send(&machine, "MAIL FROM:<a@b.example>")) == 250)
    }

    @Test func rejectedMessageResetsTheTransaction() {
        var machine = Self.machine(relayClient: true)
        _ = ehloLines(&machine)
        _ = send(&machine, "MAIL FROM:<a@b.example>")
        _ = send(&machine, "RCPT TO:<c@d.example>")
        _ = send(&machine, "DATA")
        #expect(code(machine.messageReceived(rejection: Replies.messageTooBig)) == 552)
        #expect(code(send(&machine, "RCPT TO:<c@d.example>")) == 503)
    }

    @Test func bdatChunksAndLast() {
        var machine = Self.machine(relayClient: true)
        _ = ehloLines(&machine)
        // BDAT without a transaction: the chunk is read and discarded, then refused.
        #expect(send(&machine, "BDAT 5") == .receiveChunk(size: 5, last: false, discard: true))
        #expect(code(machine.chunkReceived(size: 5)) == 503)
        _ = send(&machine, "RSET")
        _ = send(&machine, "MAIL FROM:<a@b.example>")
        _ = send(&machine, "RCPT TO:<c@d.example>")
        #expect(send(&machine, "BDAT 3") == .receiveChunk(size: 3, last: false, discard: false))
        #expect(code(machine.chunkReceived(size: 3)) == 250)
        #expect(code(send(&machine, "DATA")) == 503)
        #expect(send(&machine, "BDAT 2 LAST") == .receiveChunk(size: 2, last: true, discard: false))
        guard case .storeMessage = machine.messageReceived(rejection: nil) else { Issue.record("no store"); return }
        #expect(code(machine.messageNotStored(Replies.diskFull)) == 452)
    }

    @Test func httpRequestsAndTooManyErrorsClose() {
        var machine = Self.machine()
        guard case .replyAndClose(let reply) = send(&machine, "GET / HTTP/1.1") else { Issue.record("not closed"); return }
        #expect(reply.code == 554)

        var noisy = Self.machine(maximumErrors: 2)
        #expect(code(send(&noisy, "FOO")) == 500)
        #expect(code(send(&noisy, "BAR")) == 500)
        guard case .replyAndClose(let last) = send(&noisy, "BAZ") else { Issue.record("not closed"); return }
        #expect(last.code == 421)
    }

    @Test func quitAndMisc() {
        var machine = Self.machine()
        #expect(code(send(&machine, "NOOP")) == 250)
        #expect(code(send(&machine, "VRFY x")) == 252)
        #expect(code(send(&machine, "HELP")) == 214)
        #expect(send(&machine, "QUIT") == .replyAndClose(SMTPReply(221, "2.0.0", "Bye")))
    }
}
