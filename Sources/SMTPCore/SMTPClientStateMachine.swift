// Longer than 300 lines: one state machine: every reply in every state, read together (RFC
// 5321 §4.3.2 sequencing); split by command, the state checks would scatter.

/// The client side of an outbound SMTP session (RFC 5321 §3, §4.1; RFC 3207
/// STARTTLS; RFC 4954 AUTH for a smarthost; RFC 3461 DSN parameters; RFC 1870 SIZE;
/// RFC 2920 PIPELINING; RFC 3030 CHUNKING).
///
/// Pure: the channel handler feeds it server replies and TLS outcomes and carries
/// out the returned ``Action``s. One transaction at a time; between transactions
/// the session is ``Action/ready`` for the next message (RSET first) or QUIT.
public struct SMTPClientStateMachine: Sendable {
    public enum TLSPolicy: Sendable, Equatable {
        /// Plain text only.
        case none
        /// STARTTLS when the server offers it, plain text otherwise.
        case opportunistic
        /// STARTTLS or no delivery.
        case required
    }

    public struct Configuration: Sendable {
        public var heloName: String
        /// Names that are this relay: a server greeting with one of them is this
        /// relay or a twin of it (a loop). Always includes `heloName`.
        public var ownNames: [String]
        public var tls: TLSPolicy
        /// AUTH PLAIN with these, after TLS (smarthost mode).
        public var credentials: Credentials?

        /// `ownNames`: further names of this relay (its `hostname` when `helo_name`
        /// differs), besides `heloName`.
        public init(heloName: String, ownNames: [String] = [], tls: TLSPolicy, credentials: Credentials?) {
            self.heloName = heloName
            self.ownNames = [heloName] + ownNames.filter { $0.asciiUppercased() != heloName.asciiUppercased() }
            self.tls = tls
            self.credentials = credentials
        }
    }

    /// One message to send.
    public struct Transaction: Sendable, Equatable {
        public var sender: ReversePath
        public var parameters: MailParameters
        public var recipients: [Recipient]

        public init(sender: ReversePath, parameters: MailParameters, recipients: [Recipient]) {
            self.sender = sender
            self.parameters = parameters
            self.recipients = recipients
        }

        /// The sender asked for SMTPUTF8 and an address is not plain ASCII.
        var needsSMTPUTF8: Bool {
            guard parameters.smtpUTF8 else { return false }
            let addresses = recipients.map { "\($0.mailbox)" } + ["\(sender)"]
            return addresses.contains { !$0.utf8.allSatisfy { $0 < 0x80 } }
        }
    }

    /// What became of each recipient of a transaction, in order.
    public enum RecipientResult: Sendable, Equatable {
        case accepted(SMTPReply)
        case transientFailure(SMTPReply)
        case permanentFailure(SMTPReply)

        init(_ reply: SMTPReply) {
            if (200..<300).contains(reply.code) { self = .accepted(reply) }
            else if reply.isTransientFailure { self = .transientFailure(reply) }
            else { self = .permanentFailure(reply) }
        }
    }

    public enum Action: Sendable, Equatable {
        /// Send this command line (without CRLF).
        case send(String)
        /// Send these command lines in one write (RFC 2920 PIPELINING).
        case sendLines([String])
        /// Start the TLS handshake; report with ``tlsEstablished()`` or ``tlsFailed()``.
        case startTLS
        /// Send the message text, dot-stuffed and ended with `CRLF . CRLF`.
        case sendMessageText
        /// Send the next BDAT chunk of the text (RFC 3030 §2); call
        /// ``chunkReady(last:)`` just before writing it.
        case sendChunk
        /// The transaction is over; one result per recipient.
        case transactionFinished([RecipientResult])
        /// Ready for ``startTransaction(_:)`` or ``quit()``.
        case ready
        /// The session failed before or outside a transaction (greeting, EHLO, TLS
        /// or AUTH trouble): close; pending recipients are retried later or elsewhere.
        /// `reply` is the server's, when there was one.
        case fail(reason: String, reply: SMTPReply?)
        /// Close the connection (after QUIT).
        case close
        /// Nothing to do yet (more pipelined replies to come).
        case none
    }

    enum State: Sendable, Equatable {
        case awaitingGreeting
        case ehloSent
        case heloSent
        case startTLSSent
        case handshaking
        case authSent
        /// AUTH LOGIN: the 334 for the user name, then for the password.
        case authLoginUsername
        case authLoginPassword
        case ready
        case mailSent(Transaction)
        /// MAIL, every RCPT and DATA went out together; their replies so far.
        case pipelined(Transaction, replies: [SMTPReply])
        /// DATA got 354 though no recipient was accepted: a lone "." was sent to
        /// end it; its reply is ignored (RFC 2920 §3.1).
        case abortingData(results: [RecipientResult])
        case rcptSent(Transaction, results: [RecipientResult])
        case dataSent(Transaction, results: [RecipientResult])
        /// The text is being written; no reply may come yet.
        case sendingText(Transaction, results: [RecipientResult])
        case textSent(Transaction, results: [RecipientResult])
        /// The next BDAT chunk is being read; no reply may come yet.
        case chunking(Transaction, results: [RecipientResult])
        /// A BDAT chunk is out; its reply is awaited (RFC 3030 §2: one per chunk).
        case chunkSent(Transaction, results: [RecipientResult], last: Bool)
        case rsetSent
        case quitSent
        case closed
    }

    public let configuration: Configuration
    private(set) var state = State.awaitingGreeting
    /// EHLO keywords of the server, upper-cased (RFC 5321 §4.1.1.1).
    public private(set) var extensions: [String: String] = [:]
    public private(set) var tlsActive = false
    private var authenticated = false
    /// A transaction ended; the next one starts with RSET (RFC 5321 §4.1.1.5).
    private var needsReset = false

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    // MARK: Events

    public mutating func replyReceived(_ reply: SMTPReply) -> Action {
        switch state {
        case .awaitingGreeting:
            guard reply.code == 220 else { return fail("greeting", reply) }
            return ehlo()
        case .ehloSent:
            if reply.code == 250 {
                // The server greets with our own name: the route or MX leads back
                // to this relay (or one of the same name). Sending would loop.
                if let name = ownName(in: reply) { return loop(name) }
                extensions = Self.parseExtensions(reply)
                return afterHello()
            }
            // RFC 5321 §3.2: fall back to HELO when EHLO is not understood.
            guard reply.isPermanentFailure, !tlsActive else { return fail("EHLO", reply) }
            state = .heloSent
            return .send("HELO \(configuration.heloName)")
        case .heloSent:
            guard reply.code == 250 else { return fail("HELO", reply) }
            if let name = ownName(in: reply) { return loop(name) }
            extensions = [:]
            return afterHello()
        case .startTLSSent:
            guard reply.code == 220 else {
                return configuration.tls == .required ? fail("STARTTLS", reply) : afterTLSDeclined()
            }
            state = .handshaking
            return .startTLS
        case .authSent:
            guard reply.code == 235 else { return fail("AUTH", reply) }
            authenticated = true
            state = .ready
            return .ready
        case .authLoginUsername:
            guard reply.code == 334, let credentials = configuration.credentials else { return fail("AUTH LOGIN", reply) }
            state = .authLoginPassword
            return .send(Base64.encode(Array(credentials.username.utf8)))
        case .authLoginPassword:
            guard reply.code == 334, let credentials = configuration.credentials else { return fail("AUTH LOGIN", reply) }
            state = .authSent
            return .send(Base64.encode(Array(credentials.password.utf8)))
        case .mailSent(let transaction):
            guard reply.isPositive else {
                // MAIL refused: every recipient shares the outcome.
                needsReset = true
                state = .ready
                return .transactionFinished(transaction.recipients.map { _ in RecipientResult(reply) })
            }
            return sendRecipient(transaction, results: [])
        case .pipelined(let transaction, var replies):
            replies.append(reply)
            guard replies.count == transaction.recipients.count + (usesChunking ? 1 : 2) else {
                state = .pipelined(transaction, replies: replies)
                return .none
            }
            return pipelinedRepliesComplete(transaction, replies)
        case .rcptSent(let transaction, var results):
            results.append(RecipientResult(reply))
            guard results.count == transaction.recipients.count else {
                return sendRecipient(transaction, results: results)
            }
            guard results.contains(where: { if case .accepted = $0 { return true } else { return false } }) else {
                needsReset = true
                state = .ready
                return .transactionFinished(results)
            }
            if usesChunking {
                state = .chunking(transaction, results: results)
                return .sendChunk
            }
            state = .dataSent(transaction, results: results)
            return .send("DATA")
        case .dataSent(let transaction, let results):
            if reply.code == 354 {
                state = .sendingText(transaction, results: results)
                return .sendMessageText
            }
            // Only a refusal ends the transaction here; a 2xx to DATA would make
            // recipients look delivered without their text: the server is broken.
            guard !reply.isPositive else { return fail("DATA", reply) }
            needsReset = true
            state = .ready
            return .transactionFinished(Self.apply(reply, to: results))
        case .textSent(_, let results):
            state = .ready
            needsReset = true
            return .transactionFinished(Self.apply(reply, to: results))
        case .chunkSent(let transaction, let results, let last):
            // RFC 3030 §2: a refused chunk ends the transaction; no more are sent.
            if !last && (200..<300).contains(reply.code) {
                state = .chunking(transaction, results: results)
                return .sendChunk
            }
            state = .ready
            needsReset = true
            return .transactionFinished(Self.apply(reply, to: results))
        case .abortingData(let results):
            needsReset = true
            state = .ready
            return .transactionFinished(results)
        case .rsetSent:
            guard reply.code == 250 else { return fail("RSET", reply) }
            needsReset = false
            state = .ready
            return .ready
        case .quitSent:
            state = .closed
            return .close
        case .handshaking, .ready, .closed, .sendingText, .chunking:
            // A reply nobody asked for: the server is out of step.
            return fail("unexpected reply", reply)
        }
    }

    /// The text and its final dot are written; the final reply may come now.
    public mutating func textSent() {
        guard case .sendingText(let transaction, let results) = state else { return }
        state = .textSent(transaction, results: results)
    }

    /// The next BDAT chunk (the last one when `last`) is about to be written.
    public mutating func chunkReady(last: Bool) {
        guard case .chunking(let transaction, let results) = state else { return }
        state = .chunkSent(transaction, results: results, last: last)
    }

    public mutating func tlsEstablished() -> Action {
        guard state == .handshaking else { return fail("TLS established out of turn", nil) }
        tlsActive = true
        extensions = [:]
        // RFC 3207 §4.2: forget what the server said before TLS and say EHLO again.
        return ehlo()
    }

    public mutating func tlsFailed() -> Action {
        fail("TLS handshake", nil)
    }

    /// Starts the next message; only when the last action was ``Action/ready``.
    public mutating func startTransaction(_ transaction: Transaction) -> Action {
        precondition(state == .ready, "transaction started in state \(state)")
        if needsReset {
            // The result of RSET is awaited first; the caller sends the transaction
            // again on the `.ready` that follows.
            state = .rsetSent
            return .send("RSET")
        }
        if transaction.needsSMTPUTF8 && extensions["SMTPUTF8"] == nil {
            // RFC 6531 §3.2: an address in UTF-8 cannot go to a server without
            // SMTPUTF8; nothing is sent and the message is returned.
            let reply = SMTPReply(553, "5.6.7", "SMTPUTF8 is required, but was not offered by the next hop")
            return .transactionFinished(transaction.recipients.map { _ in .permanentFailure(reply) })
        }
        let mail = "MAIL FROM:\(transaction.sender)" + mailParameters(transaction)
        if extensions["PIPELINING"] != nil {
            // RFC 2920 §3.1: MAIL, RCPT... and DATA as one group; DATA ends it.
            // With CHUNKING the group is MAIL and RCPT...: BDAT carries text, which
            // is sent only once a recipient is accepted.
            state = .pipelined(transaction, replies: [])
            return .sendLines([mail] + transaction.recipients.map(recipientLine) + (usesChunking ? [] : ["DATA"]))
        }
        state = .mailSent(transaction)
        return .send(mail)
    }

    /// RFC 3030: the text goes in BDAT chunks, not DATA.
    public var usesChunking: Bool { extensions["CHUNKING"] != nil }

    /// A BDAT chunk is out and its reply not yet in.
    public var awaitsChunkReply: Bool {
        if case .chunkSent = state { return true }
        return false
    }

    /// The server still owes replies to commands sent together.
    public var awaitsPipelinedReplies: Bool {
        if case .pipelined = state { return true }
        return false
    }

    /// Every reply of a pipelined group is in: MAIL, one per RCPT, DATA (none with
    /// CHUNKING).
    private mutating func pipelinedRepliesComplete(_ transaction: Transaction, _ replies: [SMTPReply]) -> Action {
        let mail = replies[0]
        var results = replies[1..<(1 + transaction.recipients.count)].map(RecipientResult.init)
        if !(200..<300).contains(mail.code) {
            results = transaction.recipients.map { _ in RecipientResult(mail) }
        }
        let anyAccepted = (200..<300).contains(mail.code)
            && results.contains { if case .accepted = $0 { return true } else { return false } }
        if usesChunking {
            guard anyAccepted else {
                needsReset = true
                state = .ready
                return .transactionFinished(results)
            }
            state = .chunking(transaction, results: results)
            return .sendChunk
        }
        let data = replies[replies.count - 1]
        if data.code == 354 {
            // RFC 2920 §3.1: after a 354 the text must follow; with nobody to send
            // it to, an empty text ends the transaction.
            guard anyAccepted else {
                state = .abortingData(results: results)
                return .send(".")
            }
            state = .sendingText(transaction, results: results)
            return .sendMessageText
        }
        guard !data.isPositive else { return fail("DATA", data) }
        needsReset = true
        state = .ready
        return .transactionFinished(anyAccepted ? Self.apply(data, to: results) : results)
    }

    public mutating func quit() -> Action {
        state = .quitSent
        return .send("QUIT")
    }

    // MARK: Steps

    private mutating func ehlo() -> Action {
        state = .ehloSent
        return .send("EHLO \(configuration.heloName)")
    }

    /// The name the server greets with, when it is one of ours.
    private func ownName(in reply: SMTPReply) -> String? {
        guard let name = reply.lines.first?.split(separator: " ").first else { return nil }
        let greeting = name.asciiUppercased()
        return configuration.ownNames.first { $0.asciiUppercased() == greeting }
    }

    private mutating func loop(_ name: String) -> Action {
        fail("mail loops back to myself (the server calls itself \(name))", nil)
    }

    private mutating func afterHello() -> Action {
        if !tlsActive && configuration.tls != .none {
            if extensions["STARTTLS"] != nil {
                state = .startTLSSent
                return .send("STARTTLS")
            }
            if configuration.tls == .required { return fail("STARTTLS not offered", nil) }
        }
        return afterTLSDeclined()
    }

    private mutating func afterTLSDeclined() -> Action {
        if let credentials = configuration.credentials, !authenticated {
            // RFC 4954 §4 with PLAIN (RFC 4616): never over plain text.
            guard tlsActive else { return fail("AUTH needs TLS", nil) }
            let mechanisms = (extensions["AUTH"] ?? "").asciiUppercased().split(separator: " ")
            if mechanisms.contains("PLAIN") {
                state = .authSent
                let message = [UInt8](("\0" + credentials.username + "\0" + credentials.password).utf8)
                return .send("AUTH PLAIN " + Base64.encode(message))
            }
            // Exchange offers LOGIN only on some connectors.
            guard mechanisms.contains("LOGIN") else { return fail("AUTH PLAIN or LOGIN not offered", nil) }
            state = .authLoginUsername
            return .send("AUTH LOGIN")
        }
        state = .ready
        return .ready
    }

    private mutating func sendRecipient(_ transaction: Transaction, results: [RecipientResult]) -> Action {
        state = .rcptSent(transaction, results: results)
        return .send(recipientLine(transaction.recipients[results.count]))
    }

    private func recipientLine(_ recipient: Recipient) -> String {
        var line = "RCPT TO:<\(recipient.mailbox)>"
        if extensions["DSN"] != nil {
            if let notify = recipient.parameters.notify { line += " NOTIFY=\(notify)" }
            if let orcpt = recipient.parameters.originalRecipient { line += " ORCPT=\(orcpt)" }
        }
        return line
    }

    /// MAIL parameters the server understands (RFC 1870, 6152, 6531, 3461).
    private func mailParameters(_ transaction: Transaction) -> String {
        var line = ""
        let parameters = transaction.parameters
        if let size = parameters.size, extensions["SIZE"] != nil { line += " SIZE=\(size)" }
        if let body = parameters.body, body != .sevenBit, extensions["8BITMIME"] != nil { line += " BODY=\(body.rawValue)" }
        if parameters.smtpUTF8, extensions["SMTPUTF8"] != nil { line += " SMTPUTF8" }
        if extensions["DSN"] != nil {
            if let ret = parameters.ret { line += " RET=\(ret.rawValue)" }
            if let envelopeID = parameters.envelopeID { line += " ENVID=\(envelopeID)" }
        }
        return line
    }

    /// The final reply to the text applies to every recipient accepted at RCPT.
    private static func apply(_ reply: SMTPReply, to results: [RecipientResult]) -> [RecipientResult] {
        results.map { result in
            if case .accepted = result { return RecipientResult(reply) }
            return result
        }
    }

    private mutating func fail(_ step: String, _ reply: SMTPReply?) -> Action {
        state = .closed
        return .fail(reason: step, reply: reply)
    }

    /// `250-KEYWORD params` lines after the first (RFC 5321 §4.1.1.1).
    static func parseExtensions(_ reply: SMTPReply) -> [String: String] {
        var extensions: [String: String] = [:]
        for line in reply.lines.dropFirst() {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard let keyword = parts.first else { continue }
            extensions[keyword.asciiUppercased()] = parts.count == 2 ? String(parts[1]) : ""
        }
        return extensions
    }
}
