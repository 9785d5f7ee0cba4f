// Longer than 300 lines: one session's state and every step of it (replies, STARTTLS,
// the text streamed from the spool, the end); its certificate checks are in
// OutboundSessionHandler+CertificateChecks.swift.

import Connections
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SMTPCore

/// Runs one outbound SMTP session on a connected channel: feeds server replies to
/// ``SMTPClientStateMachine``, carries out its actions, streams each message's
/// spool file (dot-stuffed after DATA, or in BDAT chunks), and completes `report`
/// when the session ends.
final class OutboundSessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let timeouts: DeliveryTimeouts
    /// Text per BDAT chunk: few round trips, bounded memory per session.
    static let chunkSize: Int64 = 256 * 1024

    private var machine: SMTPClientStateMachine
    private var messages: [OutboundMessage]
    /// Asked for more messages to the same destination once these are sent, so one
    /// connection carries as many as the queue has (nil: none).
    private let fetchMore: (@Sendable (any EventLoop) -> EventLoopFuture<[OutboundMessage]>)?
    private var noMoreMessages = false
    private let tlsContext: NIOSSLContext?
    let serverName: String?
    /// How the server's certificate is checked.
    let requirement: TLSRequirement
    /// How DANE authenticated the server, or why it did not (set by the
    /// verification callback before the handshake ends).
    var daneOutcome: DANEVerifier.Outcome?
    /// STARTTLS was answered 220 and the handshake began.
    private var tlsStarted = false
    /// For `.observed`: what the certificate check found (nil: valid, or not yet run).
    let pkixChecker: PKIXChecker
    var observed: TLSFailure??
    private let fileIO: NonBlockingFileIO
    private let report: SessionReporter
    /// Called as each message's transaction ends, so its results are saved at once.
    private let onTransaction: @Sendable (Int, [SMTPClientStateMachine.RecipientResult], TransactionContext) -> Void
    private var result: SessionReport
    private var parser = SMTPReplyParser()
    private var input = ByteBuffer()
    /// Index of the message being sent or next to send.
    private var current = 0
    private var done = false
    private var timeout: Scheduled<Void>?
    /// The spool file being sent in BDAT chunks.
    private var chunkedText: ChunkedText?

    private struct ChunkedText {
        var handle: NIOFileHandle
        var offset: Int64 = 0
        var size: Int64
        var encoder = OutboundTextEncoder(framing: .bdat)
    }

    init(configuration: SMTPClientStateMachine.Configuration, messages: [OutboundMessage], tlsContext: NIOSSLContext?,
         serverName: String?, requirement: TLSRequirement, pkixChecker: PKIXChecker, fileIO: NonBlockingFileIO, report: SessionReporter, timeouts: DeliveryTimeouts,
         fetchMore: (@Sendable (any EventLoop) -> EventLoopFuture<[OutboundMessage]>)?,
         onTransaction: @escaping @Sendable (Int, [SMTPClientStateMachine.RecipientResult], TransactionContext) -> Void) {
        self.timeouts = timeouts
        self.fetchMore = fetchMore
        self.onTransaction = onTransaction
        self.machine = SMTPClientStateMachine(configuration: configuration)
        self.messages = messages
        self.tlsContext = tlsContext
        self.serverName = serverName
        self.requirement = requirement
        self.pkixChecker = pkixChecker
        self.fileIO = fileIO
        self.report = report
        self.result = SessionReport(messageCount: messages.count)
    }

    func channelActive(context: ChannelHandlerContext) {
        result.localAddress = context.channel.localAddress?.ipAddress
        armTimeout(context: context, timeouts.command)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        input.writeBuffer(&bytes)
        while !done {
            switch parser.next(from: &input) {
            case .needMoreData:
                input.discardReadBytes()
                return
            case .invalid:
                finish(context: context, failure: "not an SMTP reply", reply: nil)
                return
            case .reply(let reply):
                // Every reply answers one command of ours: more than the commands
                // outstanding means the server is out of step (or hostile). The reply
                // itself still counts (a 250 to the text is a delivery, never to be
                // repeated); then the session ends.
                let outOfStep = input.readableBytes > 0 && !machine.awaitsPipelinedReplies
                armTimeout(context: context, timeouts.command)
                perform(machine.replyReceived(reply), context: context)
                if outOfStep {
                    finish(context: context, failure: "the server sent more than it was asked for", reply: nil)
                    return
                }
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            let version = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).tlsVersion
            let cipher = try? context.pipeline.syncOperations.handler(type: TLSCipherRecorder.self).cipherName
            result.tls = TLSSessionInfo(protocolName: version?.protocolName ?? "TLS", cipher: cipher ?? "unknown",
                                        verifiedBy: verification)
            if case .some(.some(let failure)) = observed { result.tlsFailure = failure }
            // DANE goes on only with the certificate authenticated (the callback says so).
            if case .dane = requirement, verification == nil {
                result.tlsFailure = .daneValidation("the handshake ended without an authenticated certificate")
                finish(context: context, failure: "DANE: the handshake ended without an authenticated certificate", reply: nil)
                return
            }
            perform(machine.tlsEstablished(), context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if tlsStarted && result.tls == nil { result.tlsFailure = Self.handshakeFailure(error, daneOutcome) }
        if case .failed(let reason)? = daneOutcome {
            finish(context: context, failure: "DANE: \(reason)", reply: nil)
        } else {
            finish(context: context, failure: "\(error)", reply: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(context: context, failure: "connection closed by the server", reply: nil)
        context.fireChannelInactive()
    }

    private func perform(_ action: SMTPClientStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .send(let line):
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: line + "\r\n")), promise: nil)
        case .sendLines(let lines):
            let text = lines.joined(separator: "\r\n") + "\r\n"
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
        case .none:
            break
        case .startTLS:
            // RFC 3207 §4: nothing may follow the 220 before the handshake.
            guard input.readableBytes == 0, let tlsContext else {
                finish(context: context, failure: "data after the 220 to STARTTLS", reply: nil)
                return
            }
            tlsStarted = true
            do {
                // The recorder reads the cipher from the server's hello as it comes in.
                try context.pipeline.syncOperations.addHandlers(
                    [TLSCipherRecorder(), try tlsHandler(tlsContext, eventLoop: context.eventLoop)], position: .first)
            } catch {
                finish(context: context, failure: "TLS: \(error)", reply: nil)
            }
        case .sendMessageText:
            sendText(context: context)
        case .sendChunk:
            sendChunk(context: context)
        case .transactionFinished(let results):
            // A refused BDAT chunk ends the transaction with the file still open.
            closeChunkedText()
            result.results[current] = results
            onTransaction(current, results, TransactionContext(tls: result.tls, dsnOffered: machine.extensions["DSN"] != nil))
            current += 1
            next(context: context)
        case .ready:
            next(context: context)
        case .fail(let reason, let reply):
            // No STARTTLS offered, or refused, where TLS is a must.
            if requirement.clientPolicy == .required && !tlsStarted && reason.hasPrefix("STARTTLS") {
                result.tlsFailure = .starttlsNotSupported
            }
            finish(context: context, failure: reason, reply: reply)
        case .close:
            finish(context: context, failure: nil, reply: nil)
        }
    }

    /// Starts the next message, or says QUIT.
    private func next(context: ChannelHandlerContext) {
        // Mail in plain text although TLS was wanted: the server offered no STARTTLS.
        if !machine.tlsActive && requirement != .none && result.tlsFailure == nil { result.tlsFailure = .starttlsNotSupported }
        if current < messages.count {
            let action = machine.startTransaction(messages[current].transaction)
            switch action {
            case .send(let line) where line.hasPrefix("MAIL "): result.attempted = current + 1
            case .sendLines: result.attempted = current + 1
            default: break
            }
            perform(action, context: context)
        } else if let fetchMore, !noMoreMessages {
            // More for this destination? Sent on this connection, without a new
            // handshake (RFC 5321 §4.5.3.1.10 allows many transactions).
            fetchMore(context.eventLoop).hop(to: context.eventLoop).assumeIsolated().whenComplete { more in
                guard !self.done else { return }
                let more = (try? more.get()) ?? []
                if more.isEmpty { self.noMoreMessages = true }
                self.messages += more
                self.result.results += Array(repeating: nil, count: more.count)
                self.next(context: context)
            }
        } else {
            perform(machine.quit(), context: context)
        }
    }

    /// Streams the spool file through the dot-stuffer; the reply is read as usual.
    private func sendText(context: ChannelHandlerContext) {
        let path = messages[current].path
        let eventLoop = context.eventLoop
        let channel = context.channel
        let (fileIO, blockTimeout) = (self.fileIO, timeouts.command)
        armTimeout(context: context, blockTimeout)
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        let loopContext = NIOLoopBound(context, eventLoop: eventLoop)
        let sent = fileIO.openFile(_deprecatedPath: path, eventLoop: eventLoop).flatMap { handle, region in
            let stuffer = NIOLoopBoundBox(OutboundTextEncoder(framing: .data), eventLoop: eventLoop)
            return fileIO.readChunked(fileRegion: region, chunkSize: 64 * 1024, allocator: channel.allocator, eventLoop: eventLoop) { chunk in
                var output = channel.allocator.buffer(capacity: chunk.readableBytes + 64)
                stuffer.value.encode(chunk, into: &output)
                return channel.writeAndFlush(output).map {
                    handler.value.armTimeout(context: loopContext.value, blockTimeout)
                }
            }.flatMap {
                var output = channel.allocator.buffer(capacity: 8)
                stuffer.value.finish(into: &output)
                return channel.writeAndFlush(output)
            }.always { _ in try? handle.close() }
        }
        sent.assumeIsolated().whenComplete { result in
            switch result {
            case .success:
                self.machine.textSent()
                self.armTimeout(context: context, self.timeouts.finalReply)
            case .failure(let error):
                self.finish(context: context, failure: "sending the message text: \(error)", reply: nil)
            }
        }
    }

    /// Reads the next piece of the spool file and sends it as `BDAT n` (or
    /// `BDAT n LAST` at the end of the file, RFC 3030 §2); the reply is read as usual.
    private func sendChunk(context: ChannelHandlerContext) {
        armTimeout(context: context, timeouts.command)
        let eventLoop = context.eventLoop
        let fileIO = self.fileIO
        let opened: EventLoopFuture<Void>
        if chunkedText == nil {
            opened = fileIO.openFile(_deprecatedPath: messages[current].path, eventLoop: eventLoop)
                .hop(to: eventLoop).assumeIsolated().flatMapThrowing { handle, region in
                    // The session may have ended while the file was being opened.
                    guard !self.done else {
                        try? handle.close()
                        throw ChannelError.ioOnClosedChannel
                    }
                    self.chunkedText = ChunkedText(handle: handle, size: Int64(region.endIndex))
                }.nonisolated()
        } else {
            opened = eventLoop.makeSucceededVoidFuture()
        }
        opened.assumeIsolated().flatMap { () -> EventLoopFuture<ByteBuffer> in
            let text = self.chunkedText!
            return fileIO.read(fileHandle: text.handle, fromOffset: text.offset,
                               byteCount: Int(min(Self.chunkSize, text.size - text.offset)),
                               allocator: context.channel.allocator, eventLoop: eventLoop)
        }.whenComplete { result in
            guard !self.done else { return }
            let piece: ByteBuffer
            switch result {
            case .success(let buffer): piece = buffer
            case .failure(let error):
                self.finish(context: context, failure: "reading the message text: \(error)", reply: nil)
                return
            }
            guard var text = self.chunkedText else { return }
            var output = context.channel.allocator.buffer(capacity: piece.readableBytes + 64)
            text.encoder.encode(piece, into: &output)
            text.offset += Int64(piece.readableBytes)
            let last = text.offset >= text.size || piece.readableBytes == 0
            if last {
                text.encoder.finish(into: &output)
                self.closeChunkedText()
            } else {
                self.chunkedText = text
            }
            self.machine.chunkReady(last: last)
            var command = context.channel.allocator.buffer(string: "BDAT \(output.readableBytes)\(last ? " LAST" : "")\r\n")
            command.writeBuffer(&output)
            context.writeAndFlush(self.wrapOutboundOut(command)).assumeIsolated().whenSuccess {
                // Unless the server answered before the chunk was all written.
                guard self.machine.awaitsChunkReply else { return }
                self.armTimeout(context: context, last ? self.timeouts.finalReply : self.timeouts.command)
            }
        }
    }

    private func closeChunkedText() {
        try? chunkedText?.handle.close()
        chunkedText = nil
    }

    private func armTimeout(context: ChannelHandlerContext, _ duration: TimeAmount) {
        timeout?.cancel()
        timeout = context.eventLoop.assumeIsolated().scheduleTask(in: duration) {
            self.finish(context: context, failure: "timeout", reply: nil)
        }
    }

    private func finish(context: ChannelHandlerContext, failure: String?, reply: SMTPReply?) {
        guard !done else { return }
        done = true
        timeout?.cancel()
        closeChunkedText()
        result.failure = failure
        result.failureReply = reply
        report.complete(result)
        context.close(promise: nil)
    }
}
