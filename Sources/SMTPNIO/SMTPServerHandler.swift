// Longer than 300 lines: one channel handler: command, DATA and BDAT modes, back-pressure and
// timeouts share its state.

#if canImport(Glibc)
import Glibc
#endif
import Connections
import LogEvents
import Logging
import NIOCore
import NIOSSL
import NIOTLS
import SMTPCore

/// Runs one inbound SMTP session on a channel: frames the byte stream into command
/// lines, DATA text and BDAT chunks, feeds ``SMTPServerStateMachine`` and carries
/// out its actions.
///
/// Replies to pipelined commands (RFC 2920) are written as the commands are read
/// and flushed once the input is used up or the session waits (AUTH check, queue
/// write), during which no more bytes are read from the socket.
public final class SMTPServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    public struct Configuration: Sendable {
        public var session: SMTPServerConfiguration
        public var bareNewline: BareNewlinePolicy
        public var commandTimeout: TimeAmount
        public var dataTimeout: TimeAmount
        /// How long to wait before the greeting; a client that talks in the meantime
        /// is refused (RFC 5321 §4.3.1: the client waits for the 220). Zero: no wait.
        public var greetingDelay: TimeAmount
        /// Used for STARTTLS; nil when the listener has no STARTTLS.
        public var tlsContext: NIOSSLContext?

        public init(session: SMTPServerConfiguration, bareNewline: BareNewlinePolicy, commandTimeout: TimeAmount,
                    dataTimeout: TimeAmount, greetingDelay: TimeAmount = .zero, tlsContext: NIOSSLContext?) {
            self.session = session
            self.bareNewline = bareNewline
            self.commandTimeout = commandTimeout
            self.dataTimeout = dataTimeout
            self.greetingDelay = greetingDelay
            self.tlsContext = tlsContext
        }
    }

    /// RFC 5321 §4.5.3.1.4: 512 octets with CRLF; RFC 4954 §4: AUTH exchanges may
    /// need longer lines (12 KiB, as Postfix allows).
    static let maximumCommandLength = 510
    static let maximumAuthLineLength = 12 * 1024

    private enum Mode {
        /// Before the greeting (during `greetingDelay`).
        case greeting
        case command
        case data(DataReader)
        case chunk(size: Int, remaining: Int, last: Bool, discard: Bool)
        /// Waiting for the AUTH check or the queue write.
        case waiting
        case closed
    }

    private let configuration: Configuration
    private let delegate: any SMTPServerDelegate
    private let client: ClientInfo
    private var logger: Logger
    private var machine: SMTPServerStateMachine
    private var framer: CommandLineFramer
    private var mode = Mode.command
    private var input: ByteBuffer
    private var sink: (any MessageSink)?
    private var messageSize = 0
    private var rejection: SMTPReply?
    /// Line ends of the BDAT text of the current message.
    private var chunkLineEnds: LineEndingNormalizer
    private var readHeldBack = false
    /// The pending inactivity check, when it runs, and the moment the session
    /// really times out (moved forward by every read; see armTimeout).
    private var timeout: Scheduled<Void>?
    private var timeoutCheckAt = NIODeadline.distantFuture
    private var idleDeadline = NIODeadline.distantFuture

    /// How long a closing connection may take to get its last reply out before it
    /// is closed anyway (a client that does not read, a TLS handshake that stalls).
    static let closeGracePeriod = TimeAmount.seconds(10)

    public init(configuration: Configuration, client: ClientInfo, isRelayClient: Bool,
                delegate: any SMTPServerDelegate, logger: Logger) {
        self.configuration = configuration
        self.client = client
        self.delegate = delegate
        self.logger = logger
        self.machine = SMTPServerStateMachine(configuration: configuration.session, isRelayClient: isRelayClient)
        self.framer = CommandLineFramer(policy: configuration.bareNewline)
        self.chunkLineEnds = LineEndingNormalizer(policy: configuration.bareNewline)
        self.input = ByteBuffer()
    }

    // MARK: Channel events

    public func channelActive(context: ChannelHandlerContext) {
        if configuration.greetingDelay > .zero {
            mode = .greeting
            context.eventLoop.assumeIsolated().scheduleTask(in: configuration.greetingDelay) {
                guard case .greeting = self.mode else { return }
                self.mode = .command
                self.greet(context: context)
            }
        } else {
            greet(context: context)
        }
        context.fireChannelActive()
    }

    private func greet(context: ChannelHandlerContext) {
        send(machine.greeting(), context: context)
        context.flush()
        armTimeout(context: context)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive {
            channelActive(context: context)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        switch mode {
        case .closed:
            return
        case .greeting:
            perform(.replyAndClose(SMTPReply(554, "5.5.0", "Error: SMTP protocol synchronization (talked before the greeting)")),
                    context: context)
            return
        default:
            break
        }
        input.writeBuffer(&bytes)
        armTimeout(context: context)
        process(context: context)
        context.flush()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        mode = .closed
        timeout?.cancel()
        abortMessage()
        context.fireChannelInactive()
    }

    /// Replies are not read by the client: stop reading its commands until they are.
    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            resume(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    /// Sent down the pipeline when the server shuts down: the session ends as soon
    /// as it has no mail transaction in progress (``SMTPServerStateMachine/shutdownRequested()``).
    public struct ShutdownEvent: Sendable {
        public init() {}
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ShutdownEvent {
            if case .closed = mode { return }
            perform(machine.shutdownRequested(), context: context)
            context.flush()
            return
        }
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            let version = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).tlsVersion
            let cipher = try? context.pipeline.syncOperations.handler(type: TLSCipherRecorder.self).cipherName
            let name = version?.protocolName ?? "unknown"
            logger.log(.tls(protocol: name, cipher: cipher))
            delegate.sessionEvent(.tls(protocol: name), client: client)
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Clients that hang up without a TLS close_notify, or reset, are common and
        // harmless: worth a debug line, not a notice.
        let isHangUp = error as? NIOSSLError == .uncleanShutdown || (error as? IOError)?.errnoCode == ECONNRESET
        logger.log(.connectionError(error: "\(error)", hangUp: isHangUp))
        mode = .closed
        context.close(promise: nil)
    }

    /// Holds reads back while the session waits, or while the client does not read
    /// its replies, so that it cannot make Veil buffer unbounded input or output.
    public func read(context: ChannelHandlerContext) {
        if case .waiting = mode {
            readHeldBack = true
        } else if !context.channel.isWritable {
            readHeldBack = true
        } else {
            context.read()
        }
    }

    /// Goes on with buffered input and reads after a wait or a full output buffer.
    private func resume(context: ChannelHandlerContext) {
        process(context: context)
        context.flush()
        if readHeldBack, context.channel.isWritable {
            readHeldBack = false
            context.read()
        }
    }

    // MARK: Input

    private func process(context: ChannelHandlerContext) {
        while true {
            switch mode {
            case .closed, .waiting, .greeting:
                return
            case .command:
                // Replies pile up unread: wait for channelWritabilityChanged.
                guard context.channel.isWritable else { return }
                switch framer.nextLine(from: &input, maximumLength: Self.maximumAuthLineLength) {
                case .needMoreData:
                    input.discardReadBytes()
                    return
                case .line(let line) where line.readableBytes > Self.maximumCommandLength && !isAuthLine(line):
                    perform(machine.lineTooLong(), context: context)
                case .line(let line):
                    perform(machine.lineReceived(line), context: context)
                case .tooLong:
                    perform(machine.lineTooLong(), context: context)
                case .bareNewline:
                    perform(.replyAndClose(Replies.bareNewline), context: context)
                }
            case .data(var reader):
                guard input.readableBytes > 0 else { return }
                var text = context.channel.allocator.buffer(capacity: input.readableBytes)
                let result = reader.read(&input, into: &text)
                mode = .data(reader)
                take(text)
                switch result {
                case .needMoreData:
                    input.clear()
                    return
                case .end:
                    finishMessage(context: context)
                case .bareNewline:
                    abortMessage()
                    perform(.replyAndClose(Replies.bareNewline), context: context)
                }
            case .chunk(let size, let remaining, let last, let discard):
                if remaining > 0 {
                    guard input.readableBytes > 0 else {
                        input.clear()
                        return
                    }
                    let piece = input.readSlice(length: min(remaining, input.readableBytes))!
                    if !discard { takeChunk(piece, context: context) }
                    mode = .chunk(size: size, remaining: remaining - piece.readableBytes, last: last, discard: discard)
                    continue
                }
                if last {
                    var text = ByteBuffer()
                    if !discard && !chunkLineEnds.finish(into: &text) { rejection = rejection ?? Replies.bareNewline }
                    take(text)
                    finishMessage(context: context)
                } else {
                    mode = .command
                    perform(machine.chunkReceived(size: size), context: context)
                }
            }
        }
    }

    /// AUTH commands and SASL responses may be longer than other command lines.
    private func isAuthLine(_ line: ByteBuffer) -> Bool {
        machine.expectsAuthResponse
            || line.readableBytesView.prefix(5).map { $0 & 0xDF } == Array("AUTH ".utf8).map { $0 & 0xDF }
    }

    /// BDAT text: line ends checked (``LineEndingNormalizer``), then on to the sink.
    private func takeChunk(_ piece: ByteBuffer, context: ChannelHandlerContext) {
        var text = context.channel.allocator.buffer(capacity: piece.readableBytes)
        if !chunkLineEnds.process(piece, into: &text) {
            rejection = rejection ?? Replies.bareNewline
        }
        take(text)
    }

    /// Passes message text to the sink until a limit is broken; after that the text
    /// is read and dropped so that the session stays in step (RFC 5321 §4.5.3.1.10).
    private func take(_ text: ByteBuffer) {
        messageSize += text.readableBytes
        guard rejection == nil, let sink else { return }
        if messageSize > configuration.session.maximumMessageSize {
            rejection = Replies.messageTooBig
        } else if let reply = sink.write(text) {
            rejection = reply
        }
    }

    private func finishMessage(context: ChannelHandlerContext) {
        mode = .command
        if rejection == nil, let sink {
            rejection = sink.finish()
        }
        let outcome = rejection
        if outcome != nil {
            abortMessage()
        }
        resetMessageState()
        perform(machine.messageReceived(rejection: outcome), context: context)
    }

    /// Drops the message being received, if any.
    private func abortMessage() {
        sink?.abort()
        sink = nil
        resetMessageState()
    }

    private func resetMessageState() {
        rejection = nil
        messageSize = 0
        chunkLineEnds = LineEndingNormalizer(policy: configuration.bareNewline)
    }

    private func startMessage() {
        guard sink == nil, rejection == nil else { return }
        messageSize = 0
        guard let envelope = machine.envelopeBeingReceived else {
            rejection = Replies.storageFailure
            return
        }
        do {
            sink = try delegate.startMessage(client: client, envelope: envelope, user: machine.authenticatedUser)
        } catch {
            rejection = error
        }
    }

    // MARK: Actions

    private func perform(_ action: SMTPServerStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .reply(let reply):
            send(reply, context: context)
        case .replyAndClose(let reply):
            mode = .closed
            timeout?.cancel()
            send(reply, context: context)
            // The write may never complete (a client that does not read, a stalled
            // TLS handshake): close regardless after a grace period.
            let grace = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeGracePeriod) {
                context.close(promise: nil)
            }
            context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
                grace.cancel()
                context.close(promise: nil)
            }
        case .discardMessage(let reply):
            abortMessage()
            send(reply, context: context)
        case .startTLS(let reply):
            send(reply, context: context)
            context.flush()
            guard let tlsContext = configuration.tlsContext else {
                preconditionFailure("STARTTLS offered without a TLS context")
            }
            // RFC 3207 §4.2 / CVE-2011-0411: nothing sent before the handshake counts.
            input.clear()
            framer = CommandLineFramer(policy: configuration.bareNewline)
            do {
                try context.pipeline.syncOperations.addHandlers([TLSCipherRecorder(), NIOSSLServerHandler(context: tlsContext)],
                                                                 position: .first)
            } catch {
                logger.log(.starttlsFailed(error: "\(error)"))
                mode = .closed
                context.close(promise: nil)
            }
        case .receiveData(let reply):
            send(reply, context: context)
            mode = .data(DataReader(policy: configuration.bareNewline))
            startMessage()
            armTimeout(context: context)
        case .receiveChunk(let size, let last, let discard):
            // A chunk larger than any message may be is not read to its end (it may
            // announce 10^18 bytes): refuse it and close. A chunk that only makes the
            // running total too large is read and dropped, and LAST gets the 552.
            guard size <= configuration.session.maximumMessageSize else {
                abortMessage()
                perform(.replyAndClose(Replies.messageTooBig), context: context)
                return
            }
            if !discard { startMessage() }
            mode = .chunk(size: size, remaining: size, last: last, discard: discard)
        case .admitTransaction(let envelope):
            perform(machine.transactionAdmitted(envelope, refusal: delegate.transactionRefusal(client: client)), context: context)
        case .verifyCredentials(let credentials, let mechanism):
            wait(context: context, for: delegate.authenticate(credentials, mechanism: mechanism, client: client,
                                                              eventLoop: context.eventLoop)) { handler, result in
                handler.machine.authenticationFinished((try? result.get()) ?? .invalidCredentials)
            }
        case .storeMessage(let envelope):
            guard let sink else { preconditionFailure("store without a message") }
            self.sink = nil
            wait(context: context, for: sink.commit(envelope, eventLoop: context.eventLoop)) { handler, result in
                switch result {
                case .success(let queueID):
                    return handler.machine.messageStored(queueID: queueID)
                case .failure(let error):
                    return handler.machine.messageNotStored(error as? SMTPReply ?? Replies.storageFailure)
                }
            }
        }
    }

    /// Suspends input until `future` completes, then performs what `next` returns
    /// and goes on with the input already buffered.
    private func wait<Value: Sendable>(
        context: ChannelHandlerContext, for future: EventLoopFuture<Value>,
        then next: @escaping (SMTPServerHandler, Result<Value, any Error>) -> SMTPServerStateMachine.Action
    ) {
        mode = .waiting
        context.flush()
        future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
            guard case .waiting = self.mode else { return }
            self.mode = .command
            self.perform(next(self, result), context: context)
            self.resume(context: context)
        }
    }

    private func send(_ reply: SMTPReply, context: ChannelHandlerContext) {
        if reply.code >= 400 {
            logger.log(.rejected(code: reply.code, reason: reply.lines.joined(separator: " ")))
            delegate.sessionEvent(.rejected(reply), client: client)
        }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        reply.write(into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    /// RFC 5321 §4.5.3.2: a server should wait at least 5 minutes for a command and
    /// 10 minutes for DATA text; after that it answers 421 and closes.
    ///
    /// A read only moves `idleDeadline`; the scheduled check is replaced only when
    /// the deadline moves earlier than it (a cancel and a timer per read would cost
    /// more than the rest of a small message's reads). A check that runs before the
    /// deadline schedules the next one at the deadline.
    private func armTimeout(context: ChannelHandlerContext) {
        let duration: TimeAmount
        switch mode {
        case .data, .chunk: duration = configuration.dataTimeout
        default: duration = configuration.commandTimeout
        }
        idleDeadline = .now() + duration
        if timeout == nil || idleDeadline < timeoutCheckAt {
            scheduleTimeoutCheck(context: context)
        }
    }

    private func scheduleTimeoutCheck(context: ChannelHandlerContext) {
        timeout?.cancel()
        timeoutCheckAt = idleDeadline
        timeout = context.eventLoop.assumeIsolated().scheduleTask(deadline: idleDeadline) {
            let handler = self
            guard context.channel.isActive else { return }
            if case .closed = handler.mode { return }
            guard NIODeadline.now() >= handler.idleDeadline else {
                handler.scheduleTimeoutCheck(context: context)
                return
            }
            handler.abortMessage()
            handler.perform(.replyAndClose(SMTPReply(421, "4.4.2", "\(handler.configuration.session.hostname) Error: timeout exceeded")), context: context)
        }
    }
}
