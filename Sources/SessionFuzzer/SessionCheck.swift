import FuzzSupport
import NIOCore
import SMTPCore

/// One fuzz case for the server session state machine, driven as the channel
/// handler drives it: the first byte picks the listener's settings, the rest is
/// what the client sends (commands, DATA text, BDAT chunks, SASL responses). It
/// must never crash, every reply has a proper code, and no message is ever stored
/// that neither an authenticated user nor a relay network client sent: no open
/// relay, whatever the bytes.
enum SessionCheck {
    static func run(_ input: [UInt8]) {
        guard let settings = input.first else { return }
        var session = Session(settings: settings)
        var bytes = ByteBuffer(bytes: input.dropFirst())
        session.run(&bytes)
    }

    struct Session {
        enum Mode {
            case command
            case data(DataReader)
            case chunk(size: Int, remaining: Int, last: Bool)
            case closed
        }

        var machine: SMTPServerStateMachine
        var framer: CommandLineFramer
        let policy: BareNewlinePolicy
        let isRelayClient: Bool
        var mode = Mode.command
        var messageSize = 0
        var transactions = 0
        /// After this many lines the server is told to shut down (0: never).
        var linesUntilShutdown: Int

        init(settings: UInt8) {
            let configuration = SMTPServerConfiguration(
                hostname: "relay.example", tlsMode: [.none, .starttls, .implicit][Int(settings & 3) % 3],
                authMode: [.required, .optional, .off][Int(settings >> 2 & 3) % 3],
                maximumMessageSize: 2048, maximumRecipients: 4, maximumErrors: 8)
            isRelayClient = settings & 16 != 0
            policy = settings & 32 != 0 ? .normalize : .reject
            machine = SMTPServerStateMachine(configuration: configuration, isRelayClient: isRelayClient)
            framer = CommandLineFramer(policy: policy)
            linesUntilShutdown = Int(settings >> 6) * 3
        }

        mutating func run(_ bytes: inout ByteBuffer) {
            while true {
                switch mode {
                case .closed:
                    return
                case .command:
                    guard nextCommand(&bytes) else { return }
                case .data(var reader):
                    var text = ByteBuffer()
                    let result = reader.read(&bytes, into: &text)
                    messageSize += text.readableBytes
                    switch result {
                    case .needMoreData: return
                    case .bareNewline: return
                    case .end:
                        mode = .command
                        let outcome = rejection()
                        messageSize = 0
                        perform(machine.messageReceived(rejection: outcome))
                    }
                case .chunk(let size, let remaining, let last):
                    let piece = min(remaining, bytes.readableBytes)
                    bytes.moveReaderIndex(forwardBy: piece)
                    messageSize += piece
                    guard piece == remaining else { return }
                    mode = .command
                    if last {
                        let outcome = rejection()
                        messageSize = 0
                        perform(machine.messageReceived(rejection: outcome))
                    } else {
                        perform(machine.chunkReceived(size: size))
                    }
                }
            }
        }

        /// False when the input is used up.
        mutating func nextCommand(_ bytes: inout ByteBuffer) -> Bool {
            switch framer.nextLine(from: &bytes, maximumLength: 12 * 1024) {
            case .needMoreData:
                return false
            case .bareNewline:
                mode = .closed
            case .tooLong:
                perform(machine.lineTooLong())
            case .line(let line):
                let isAuth = machine.expectsAuthResponse
                    || line.readableBytesView.prefix(5).map { $0 & 0xDF } == Array("AUTH ".utf8).map { $0 & 0xDF }
                perform(line.readableBytes > 510 && !isAuth ? machine.lineTooLong() : machine.lineReceived(line))
                if linesUntilShutdown > 0 {
                    linesUntilShutdown -= 1
                    if linesUntilShutdown == 0, case .command = mode { perform(machine.shutdownRequested()) }
                }
            }
            return true
        }

        func rejection() -> SMTPReply? {
            messageSize > machine.configuration.maximumMessageSize ? Replies.messageTooBig : nil
        }

        mutating func perform(_ action: SMTPServerStateMachine.Action) {
            switch action {
            case .none:
                break
            case .reply(let reply), .discardMessage(let reply), .startTLS(let reply):
                check(reply)
            case .replyAndClose(let reply):
                check(reply)
                mode = .closed
            case .receiveData(let reply):
                check(reply)
                messageSize = 0
                mode = .data(DataReader(policy: policy))
            case .receiveChunk(let size, let last, _):
                mode = .chunk(size: size, remaining: size, last: last)
            case .admitTransaction(let envelope):
                // Every third transaction finds the spool short of space.
                transactions += 1
                perform(machine.transactionAdmitted(envelope, refusal: transactions % 3 == 0 ? Replies.diskFull : nil))
            case .verifyCredentials(let credentials, _):
                let valid = credentials.username == "user" && credentials.password == "secret"
                perform(machine.authenticationFinished(valid ? .success(AuthenticatedUser(name: "user", allowedDomains: nil))
                                                             : .invalidCredentials))
            case .storeMessage(let envelope):
                precondition(!envelope.recipients.isEmpty, "a message without recipients was stored")
                precondition(envelope.authenticatedUser != nil || isRelayClient,
                             "a message from an unauthenticated client outside relay_networks was stored (open relay)")
                perform(machine.messageStored(queueID: "01FUZZ"))
            }
        }

        func check(_ reply: SMTPReply) {
            precondition((200..<600).contains(reply.code) || reply.code == 354 || reply.code == 334, "reply code \(reply.code)")
        }
    }
}
