// Longer than 300 lines: one state machine: every command in every state, read together (RFC
// 5321 §4.3.2 sequencing); split by command, the state checks would scatter.

import NIOCore

/// The server side of one SMTP session (RFC 5321 §4.1.4 command order, RFC 3207
/// STARTTLS, RFC 4954 AUTH, RFC 3030 BDAT, RFC 2920 PIPELINING).
///
/// Pure: it never touches a socket, a file or a clock. The channel handler feeds it
/// events and carries out the ``Action`` each one returns.
public struct SMTPServerStateMachine: Sendable {
    public enum Action: Equatable, Sendable {
        case reply(SMTPReply)
        /// Send the reply, then close the connection.
        case replyAndClose(SMTPReply)
        /// Send the reply, then start TLS; bytes already received are discarded.
        case startTLS(SMTPReply)
        /// Send the 354 reply and read the message text (DATA).
        case receiveData(SMTPReply)
        /// Read the next `size` octets as message text (BDAT); `discard` when the
        /// transaction cannot take them, so they are read and dropped.
        case receiveChunk(size: Int, last: Bool, discard: Bool)
        /// MAIL passed every check of the session: ask whether the relay takes new
        /// mail now (free space), and report back at once with
        /// ``transactionAdmitted(_:refusal:)``.
        case admitTransaction(Envelope)
        /// Check the credentials and report back with ``authenticationFinished(_:)``.
        case verifyCredentials(Credentials, SASLMechanism)
        /// Store the message and report back with ``messageStored(queueID:)`` or
        /// ``messageNotStored(_:)``.
        case storeMessage(Envelope)
        /// Drop the message received so far (BDAT chunks before RSET or EHLO), then
        /// send the reply.
        case discardMessage(SMTPReply)
        /// Nothing to send.
        case none
    }

    /// The outcome of a credentials check, from whoever holds the users file.
    public enum AuthenticationResult: Sendable, Equatable {
        case success(AuthenticatedUser)
        case invalidCredentials
        case lockedOut
        /// Too many attempts at once (from this client, or from all): try later.
        case busy
    }

    enum AuthStep: Sendable, Equatable {
        case plainResponse
        case loginUsername
        case loginPassword(username: String)
    }

    enum State: Sendable, Equatable {
        /// No EHLO/HELO yet (or reset by STARTTLS).
        case awaitingHello
        case ready
        case transaction(Envelope)
        /// Between 354 and the end of data.
        case receivingData(Envelope)
        /// Between BDAT chunks; nil envelope when the chunks are being discarded.
        case chunking(Envelope?)
        /// Reading the octets of one BDAT chunk.
        case receivingChunk(Envelope?)
        /// The message is being written to the queue.
        case storing(Envelope)
        case authenticating(AuthStep)
        case verifyingCredentials
        case closed
    }

    public let configuration: SMTPServerConfiguration
    /// The client's address is in the listener's relay networks.
    public let isRelayClient: Bool
    private(set) var state: State = .awaitingHello
    public private(set) var clientName: String?
    public private(set) var tlsActive: Bool
    public private(set) var authenticatedUser: AuthenticatedUser?
    private var errors = 0
    /// The client said EHLO rather than HELO (RFC 3848 protocol names).
    private var usedESMTP = false
    /// The server is shutting down: a transaction in flight may finish, then the
    /// session ends.
    private var draining = false

    static let shuttingDown = SMTPReply(421, "4.3.2", "Service shutting down, try again later")

    public init(configuration: SMTPServerConfiguration, isRelayClient: Bool) {
        self.configuration = configuration
        self.isRelayClient = isRelayClient
        self.tlsActive = configuration.tlsMode == .implicit
    }

    /// The next line is a SASL response, not a command (it may be longer).
    public var expectsAuthResponse: Bool {
        if case .authenticating = state { return true }
        return false
    }

    /// The envelope of the message being received (DATA or BDAT), if any.
    public var envelopeBeingReceived: Envelope? {
        switch state {
        case .receivingData(let envelope): return envelope
        case .receivingChunk(let envelope): return envelope
        default: return nil
        }
    }

    // MARK: Events

    /// The connection is up: send the greeting (RFC 5321 §4.2, §3.1).
    public func greeting() -> SMTPReply {
        SMTPReply(220, nil, "\(configuration.hostname) ESMTP")
    }

    /// The server is going down (RFC 5321 §3.8): an idle session gets 421 4.3.2 at
    /// once; one in a mail transaction may finish it (RCPT, DATA, BDAT), then the
    /// session ends after the reply that closes the transaction; any other command
    /// gets 421.
    public mutating func shutdownRequested() -> Action {
        draining = true
        guard isIdle else { return .none }
        state = .closed
        return .replyAndClose(Self.shuttingDown)
    }

    /// No mail transaction or AUTH exchange in progress.
    private var isIdle: Bool {
        switch state {
        case .awaitingHello, .ready, .authenticating: return true
        default: return false
        }
    }

    /// While draining, a reply that leaves the session idle is its last.
    private mutating func drained(_ action: Action) -> Action {
        guard draining, isIdle, case .reply(let reply) = action else { return action }
        state = .closed
        return .replyAndClose(reply)
    }

    /// A complete line arrived while in command mode.
    public mutating func lineReceived(_ line: ByteBuffer) -> Action {
        if draining && isIdle {
            state = .closed
            return .replyAndClose(Self.shuttingDown)
        }
        return drained(command(line))
    }

    private mutating func command(_ line: ByteBuffer) -> Action {
        switch state {
        case .authenticating(let step):
            return authResponse(String(buffer: line), step: step)
        case .closed:
            return .none
        case .receivingData, .receivingChunk, .storing, .verifyingCredentials:
            // The handler holds lines back in these states; getting one is a bug there.
            preconditionFailure("line received in state \(state)")
        case .awaitingHello, .ready, .transaction, .chunking:
            break
        }
        if let reply = refusedHTTPRequest(line) {
            state = .closed
            return .replyAndClose(reply)
        }
        switch SMTPCommandParser.parse(line.readableBytesView) {
        case .success(let command):
            return handle(command)
        case .failure(let reply):
            return refuse(reply)
        }
    }

    /// The command line was longer than the limit (RFC 5321 §4.5.3.1.4); an
    /// over-long SASL response ends the AUTH exchange.
    public mutating func lineTooLong() -> Action {
        if case .authenticating = state { state = .ready }
        return drained(refuse(Replies.lineTooLong))
    }

    /// The message text (DATA) or the last chunk (BDAT LAST) has been read.
    /// `rejection` is set when the text broke a limit (size, header block).
    public mutating func messageReceived(rejection: SMTPReply?) -> Action {
        drained(textEnded(rejection: rejection))
    }

    private mutating func textEnded(rejection: SMTPReply?) -> Action {
        switch state {
        case .receivingData(let envelope), .receivingChunk(let envelope?):
            if let rejection {
                // Not a protocol error of the client's: not counted against max_errors.
                state = .ready
                return .reply(rejection)
            }
            state = .storing(envelope)
            return .storeMessage(envelope)
        case .receivingChunk(nil):
            state = .ready
            return refuse(SMTPReply(503, "5.5.1", "Error: no valid transaction for BDAT"))
        default:
            preconditionFailure("message received in state \(state)")
        }
    }

    /// A BDAT chunk that is not the last one has been read.
    public mutating func chunkReceived(size: Int) -> Action {
        guard case .receivingChunk(let envelope) = state else {
            preconditionFailure("chunk received in state \(state)")
        }
        state = .chunking(envelope)
        if envelope == nil {
            return refuse(SMTPReply(503, "5.5.1", "Error: no valid transaction for BDAT"))
        }
        return .reply(SMTPReply(250, "2.0.0", "Ok: \(size) octets received"))
    }

    public mutating func messageStored(queueID: String) -> Action {
        guard case .storing = state else { preconditionFailure("stored in state \(state)") }
        state = .ready
        return drained(.reply(SMTPReply(250, "2.0.0", "Ok: queued as \(queueID)")))
    }

    public mutating func messageNotStored(_ reply: SMTPReply) -> Action {
        guard case .storing = state else { preconditionFailure("not stored in state \(state)") }
        state = .ready
        return drained(.reply(reply))
    }

    public mutating func authenticationFinished(_ result: AuthenticationResult) -> Action {
        guard case .verifyingCredentials = state else { preconditionFailure("auth result in state \(state)") }
        state = .ready
        return drained(authenticationResult(result))
    }

    private mutating func authenticationResult(_ result: AuthenticationResult) -> Action {
        switch result {
        case .success(let user):
            authenticatedUser = user
            return .reply(SMTPReply(235, "2.7.0", "Authentication successful"))
        case .invalidCredentials:
            return refuse(SMTPReply(535, "5.7.8", "Error: authentication credentials invalid"))
        case .lockedOut:
            return refuse(SMTPReply(454, "4.7.0", "Error: too many authentication failures, try again later"))
        case .busy:
            return refuse(SMTPReply(454, "4.7.0", "Error: too many authentication attempts, try again later"))
        }
    }

    // MARK: Commands

    private mutating func handle(_ command: SMTPCommand) -> Action {
        switch command {
        case .ehlo(let name):
            clientName = name
            usedESMTP = true
            return resetTransaction(replying: SMTPReply(250, nil, [configuration.hostname] + extensions()))
        case .helo(let name):
            clientName = name
            usedESMTP = false
            return resetTransaction(replying: SMTPReply(250, nil, configuration.hostname))
        case .mail(let sender, let parameters):
            return mail(sender, parameters)
        case .rcpt(let mailbox, let parameters):
            return recipient(mailbox, parameters)
        case .data:
            return data()
        case .bdat(let size, let last):
            return bdat(size: size, last: last)
        case .rset:
            if state == .awaitingHello { return .reply(Replies.ok) }
            return resetTransaction(replying: Replies.ok)
        case .noop:
            return .reply(Replies.ok)
        case .quit:
            state = .closed
            return .replyAndClose(SMTPReply(221, "2.0.0", "Bye"))
        case .vrfy:
            return .reply(SMTPReply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"))
        case .help:
            return .reply(SMTPReply(214, "2.0.0", "See RFC 5321"))
        case .startTLS:
            return startTLS()
        case .auth(let mechanism, let initialResponse):
            return auth(mechanism: mechanism, initialResponse: initialResponse)
        }
    }

    /// RFC 5321 §4.1.1.5, §4.1.4: RSET and EHLO abort the transaction, including
    /// BDAT chunks already received (RFC 3030 §2).
    private mutating func resetTransaction(replying reply: SMTPReply) -> Action {
        let hadChunks: Bool
        if case .chunking = state { hadChunks = true } else { hadChunks = false }
        state = .ready
        return hadChunks ? .discardMessage(reply) : .reply(reply)
    }

    /// The EHLO keywords (RFC 5321 §4.1.1.1).
    private func extensions() -> [String] {
        var lines = ["PIPELINING", "SIZE \(configuration.maximumMessageSize)", "8BITMIME", "SMTPUTF8",
                     "ENHANCEDSTATUSCODES", "CHUNKING", "DSN"]
        if configuration.tlsMode == .starttls && !tlsActive { lines.append("STARTTLS") }
        if authOffered && authenticatedUser == nil { lines.append("AUTH PLAIN LOGIN") }
        return lines
    }

    /// RFC 4954 §4 and RFC 8314 §3: AUTH only over TLS, unless the listener has none.
    private var authOffered: Bool {
        configuration.authMode != .off && (tlsActive || configuration.tlsMode == .none)
    }

    private mutating func mail(_ sender: ReversePath, _ parameters: MailParameters) -> Action {
        switch state {
        case .awaitingHello:
            return refuse(SMTPReply(503, "5.5.1", "Error: send HELO/EHLO first"))
        case .transaction, .chunking:
            return refuse(SMTPReply(503, "5.5.1", "Error: nested MAIL command"))
        default:
            break
        }
        if configuration.authMode == .required && authenticatedUser == nil && !isRelayClient {
            return refuse(SMTPReply(530, "5.7.0", "Error: authentication required"))
        }
        if let size = parameters.size, size > configuration.maximumMessageSize {
            return refuse(Replies.messageTooBig)
        }
        if let mailbox = sender.mailbox {
            if mailbox.needsSMTPUTF8 && !parameters.smtpUTF8 {
                return refuse(SMTPReply(553, "5.6.7", "Error: non-ASCII address needs SMTPUTF8"))
            }
            if let user = authenticatedUser, !user.mayUse(domain: mailbox.domain) {
                return refuse(SMTPReply(553, "5.7.1", "Error: sender address not allowed for this user"))
            }
        }
        return .admitTransaction(Envelope(
            sender: sender, parameters: parameters, clientName: clientName ?? "",
            authenticatedUser: authenticatedUser?.name, protocolName: protocolName))
    }

    /// The answer to ``Action/admitTransaction(_:)``: the transaction starts, or
    /// `refusal` (452 4.3.1 when the spool is short of space, RFC 5321 §4.5.3.1.9) is sent.
    /// A refusal is not the client's error: it does not count towards `maximumErrors`.
    public mutating func transactionAdmitted(_ envelope: Envelope, refusal: SMTPReply?) -> Action {
        guard state == .ready else { preconditionFailure("transaction admitted in state \(state)") }
        if let refusal { return drained(.reply(refusal)) }
        state = .transaction(envelope)
        return .reply(SMTPReply(250, "2.1.0", "Ok"))
    }

    /// RFC 3848 §2 (with-protocol types).
    private var protocolName: String {
        (usedESMTP ? "ESMTP" : "SMTP") + (tlsActive ? "S" : "") + (authenticatedUser != nil ? "A" : "")
    }

    private mutating func recipient(_ mailbox: Mailbox, _ parameters: RecipientParameters) -> Action {
        guard case .transaction(var envelope) = state else {
            return refuse(SMTPReply(503, "5.5.1", "Error: need MAIL command"))
        }
        // Veil has no local domains: every recipient is relayed (no open relay).
        guard authenticatedUser != nil || isRelayClient else {
            return refuse(SMTPReply(554, "5.7.1", "Error: relay access denied"))
        }
        if mailbox.needsSMTPUTF8 && !envelope.parameters.smtpUTF8 {
            return refuse(SMTPReply(553, "5.6.7", "Error: non-ASCII address needs SMTPUTF8"))
        }
        guard envelope.recipients.count < configuration.maximumRecipients else {
            // RFC 5321 §4.5.3.1.10: a limit, not a client error; not counted.
            return .reply(SMTPReply(452, "4.5.3", "Error: too many recipients"))
        }
        envelope.recipients.append(Recipient(mailbox: mailbox, parameters: parameters))
        state = .transaction(envelope)
        return .reply(SMTPReply(250, "2.1.5", "Ok"))
    }

    private mutating func data() -> Action {
        if case .chunking = state {
            return refuse(SMTPReply(503, "5.5.1", "Error: DATA not allowed after BDAT"))
        }
        guard case .transaction(let envelope) = state else {
            return refuse(SMTPReply(503, "5.5.1", state == .awaitingHello ? "Error: send HELO/EHLO first" : "Error: need MAIL command"))
        }
        guard !envelope.recipients.isEmpty else {
            return refuse(SMTPReply(503, "5.5.1", "Error: need RCPT command"))
        }
        state = .receivingData(envelope)
        return .receiveData(SMTPReply(354, nil, "End data with <CR><LF>.<CR><LF>"))
    }

    /// RFC 3030 §2: the chunk is always read, even when it cannot be accepted, so that
    /// the session stays in step.
    private mutating func bdat(size: Int, last: Bool) -> Action {
        let envelope: Envelope?
        switch state {
        case .transaction(let current) where !current.recipients.isEmpty:
            envelope = current
        case .chunking(let current):
            envelope = current
        default:
            envelope = nil
        }
        state = .receivingChunk(envelope)
        return .receiveChunk(size: size, last: last, discard: envelope == nil)
    }

    private mutating func startTLS() -> Action {
        guard configuration.tlsMode == .starttls, !tlsActive else {
            return refuse(SMTPReply(tlsActive ? 503 : 502, "5.5.1", tlsActive ? "Error: TLS already active" : "Error: STARTTLS not available"))
        }
        guard state == .ready || state == .awaitingHello else {
            return refuse(SMTPReply(503, "5.5.1", "Error: STARTTLS not allowed during a mail transaction"))
        }
        // RFC 3207 §4.2: the client must discard what it knew, so must we.
        tlsActive = true
        clientName = nil
        state = .awaitingHello
        return .startTLS(SMTPReply(220, "2.0.0", "Ready to start TLS"))
    }

    private mutating func auth(mechanism: String, initialResponse: String?) -> Action {
        guard configuration.authMode != .off else {
            return refuse(SMTPReply(503, "5.5.1", "Error: authentication not enabled"))
        }
        guard state != .awaitingHello else {
            return refuse(SMTPReply(503, "5.5.1", "Error: send HELO/EHLO first"))
        }
        guard authOffered else {
            return refuse(SMTPReply(538, "5.7.11", "Error: encryption required for requested authentication mechanism"))
        }
        guard authenticatedUser == nil else {
            return refuse(SMTPReply(503, "5.5.1", "Error: already authenticated"))
        }
        guard state == .ready else {
            return refuse(SMTPReply(503, "5.5.1", "Error: AUTH not allowed during a mail transaction"))
        }
        switch (SASLMechanism(rawValue: mechanism), initialResponse) {
        case (.plain, nil):
            state = .authenticating(.plainResponse)
            return .reply(SMTPReply(334, nil, ""))
        case (.plain, let response?):
            return authResponse(response, step: .plainResponse)
        case (.login, nil):
            state = .authenticating(.loginUsername)
            return .reply(SMTPReply(334, nil, SASL.loginUsernamePrompt))
        case (.login, let response?):
            return authResponse(response, step: .loginUsername)
        case (nil, _):
            return refuse(SMTPReply(504, "5.5.4", "Error: unrecognized authentication type"))
        }
    }

    private mutating func authResponse(_ response: String, step: AuthStep) -> Action {
        state = .ready
        // RFC 4954 §4: "*" cancels the exchange.
        if response == "*" {
            return refuse(SMTPReply(501, "5.7.0", "Error: authentication cancelled"))
        }
        let undecodable = SMTPReply(501, "5.5.2", "Error: cannot decode response")
        switch step {
        case .plainResponse:
            // "=" is an empty initial response (RFC 4954 §4); PLAIN needs a real one.
            guard let credentials = SASL.decodePlain(response) else { return refuse(undecodable) }
            state = .verifyingCredentials
            return .verifyCredentials(credentials, .plain)
        case .loginUsername:
            guard let username = SASL.decodeLoginField(response) else { return refuse(undecodable) }
            state = .authenticating(.loginPassword(username: username))
            return .reply(SMTPReply(334, nil, SASL.loginPasswordPrompt))
        case .loginPassword(let username):
            guard let password = SASL.decodeLoginField(response) else { return refuse(undecodable) }
            state = .verifyingCredentials
            return .verifyCredentials(Credentials(username: username, password: password), .login)
        }
    }

    // MARK: Errors

    /// Sends a negative reply, or 421 and closes once the client has caused too many.
    private mutating func refuse(_ reply: SMTPReply) -> Action {
        errors += 1
        if errors > configuration.maximumErrors {
            state = .closed
            return .replyAndClose(SMTPReply(421, "4.7.0", "\(configuration.hostname) Error: too many errors"))
        }
        return .reply(reply)
    }

    /// An HTTP request line sent to the SMTP port (a cross-protocol attack or a
    /// confused client): refuse it and close, as Postfix does for GET/POST/CONNECT.
    private func refusedHTTPRequest(_ line: ByteBuffer) -> SMTPReply? {
        let view = line.readableBytesView
        let verbs = ["GET ", "POST ", "HEAD ", "PUT ", "CONNECT ", "OPTIONS ", "DELETE "]
        let prefix = String(decoding: view.prefix(8), as: UTF8.self).asciiUppercased()
        guard verbs.contains(where: { prefix.hasPrefix($0) }) else { return nil }
        return Replies.httpRequest
    }
}
