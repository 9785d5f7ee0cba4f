import DKIM
import Foundation
import LogEvents
import Logging
import MailQueue
import MessageRewriter
import NIOCore
import NIOPosix
import SMTPCore
import SMTPNIO

/// Streams one message through the rewriter and the DKIM signer into a spool file,
/// and commits it to the queue on a thread pool (fsync and signing are slow and
/// must not block an event loop).
final class SpoolSink: MessageSink {
    private let spool: Spool
    private let incoming: IncomingMessage
    private var rewriter: MessageRewriter
    /// Nil when no `[[dkim]]` key is configured.
    private var signer: SigningStage?
    private var signatures: PendingSignatures?
    private var output: [ByteBuffer] = []
    private let client: ClientInfo
    /// The authenticated user, when it is limited to some sender domains.
    private let restrictedUser: AuthenticatedUser?
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let onAccepted: @Sendable () -> Void

    init(spool: Spool, scrub: ScrubConfiguration, dkim: Keyring, client: ClientInfo, envelope: Envelope,
         restrictedUser: AuthenticatedUser?, configuration: Configuration, threadPool: NIOThreadPool, logger: Logger,
         onAccepted: @escaping @Sendable () -> Void) throws(SMTPReply) {
        self.spool = spool
        do {
            incoming = try spool.createIncoming()
        } catch {
            logger.log(.spoolError(queueID: nil, error: "\(error)"))
            throw Self.reply(for: error)
        }
        self.rewriter = MessageRewriter(
            configuration: scrub,
            context: MessageContextFactory.make(queueID: incoming.queueID, envelope: envelope, configuration: configuration))
        self.signer = dkim.isEmpty ? nil : SigningStage(keyring: dkim, now: Date())
        self.client = client
        self.restrictedUser = restrictedUser
        self.threadPool = threadPool
        self.logger = logger
        self.onAccepted = onAccepted
    }

    func write(_ text: ByteBuffer) -> SMTPReply? {
        do {
            try rewriter.process(text, into: &output)
        } catch {
            return Self.reply(for: error)
        }
        signer?.process(&output)
        return flushOutput()
    }

    func finish() -> SMTPReply? {
        do {
            try rewriter.finish(into: &output)
        } catch {
            return Self.reply(for: error)
        }
        if let restrictedUser, !FromHeaderCheck.allows(rewriter.originatorFields, for: restrictedUser) {
            return FromHeaderCheck.refusal
        }
        signer?.process(&output)
        signatures = signer?.finish(&output)
        return flushOutput()
    }

    private func flushOutput() -> SMTPReply? {
        defer { output.removeAll(keepingCapacity: true) }
        do {
            for buffer in output { try incoming.write(buffer) }
        } catch {
            logger.log(.spoolError(queueID: incoming.queueID, error: "\(error)"))
            return Self.reply(for: error)
        }
        return nil
    }

    func commit(_ envelope: Envelope, eventLoop: any EventLoop) -> EventLoopFuture<String> {
        let (spool, incoming, client, logger, onAccepted) = (self.spool, self.incoming, self.client, self.logger, self.onAccepted)
        let (scrubbed, mimeRewritten, mimeSkipped) = (rewriter.scrubbedFields, rewriter.mimeRewrites, rewriter.mimeSkipped)
        let (tnefRemoved, signatures, signers) = (rewriter.tnefRemoved, self.signatures, signer?.signers ?? [])
        return threadPool.runIfActive(eventLoop: eventLoop) {
            if let signatures {
                // Into the room left for them at the top of the file.
                do {
                    try incoming.overwrite(try signatures.fields(), at: 0)
                } catch {
                    logger.log(.spoolError(queueID: incoming.queueID, error: "DKIM signature not written: \(error)"))
                    incoming.abort()
                    throw Replies.storageFailure
                }
            }
            do throws(SpoolError) {
                try spool.commit(incoming, envelope: envelope, receivedAt: Date(),
                                 clientAddress: client.address, listener: client.listener)
            } catch {
                logger.log(.spoolError(queueID: incoming.queueID, error: "\(error)"))
                throw Self.reply(for: error)
            }
            logger.log(.accepted(
                queueID: incoming.queueID, client: client.address, listener: client.listener,
                from: envelope.sender.mailbox.map { "\($0)" } ?? "", recipients: envelope.recipients.count, size: incoming.size,
                user: envelope.authenticatedUser, helo: envelope.clientName,
                scrubbed: scrubbed, mimeRewritten: mimeRewritten, mimeSkipped: mimeSkipped, tnefRemoved: tnefRemoved,
                dkim: signers))
            RelayMetrics.accepted(bytes: incoming.size)
            onAccepted()
            return incoming.queueID
        }
    }

    func abort() {
        incoming.abort()
    }

    static func reply(for rejection: MessageRejection) -> SMTPReply {
        switch rejection {
        case .headerBlockTooLarge: return SMTPReply(554, "5.6.0", "Error: header block exceeds the maximum size")
        case .nulInHeader: return SMTPReply(554, "5.6.0", "Error: NUL byte in the header block")
        case .malformedHeader: return SMTPReply(554, "5.6.0", "Error: malformed header line (no colon)")
        case .tooManyHops: return SMTPReply(554, "5.4.6", "Error: too many hops (mail loop)")
        case .multipleFrom: return SMTPReply(550, "5.6.0", "Error: more than one From field (RFC 5322 section 3.6)")
        case .tnef: return SMTPReply(554, "5.6.0", "Error: TNEF (winmail.dat) content is not accepted; turn it off in Exchange"
                                         + " with Set-RemoteDomain Default -TNEFEnabled $false")
        case .unreadableMIME: return SMTPReply(554, "5.6.0", "Error: MIME structure that cannot be scrubbed (a part header block"
                                                   + " that is malformed, too large or not ended by an empty line, or nesting"
                                                   + " deeper than 32 levels)")
        }
    }

    static func reply(for error: SpoolError) -> SMTPReply {
        error == .diskFull ? Replies.diskFull : Replies.storageFailure
    }
}
