import Connections
import Logging
import MailQueue
import MessageRewriter
import NIOCore
import NIOPosix
import SMTPCore
import SMTPNIO

/// Connects the SMTP sessions to the users file and the queue, as the current
/// settings have them.
struct RelayDelegate: SMTPServerDelegate {
    let settings: LiveSettings
    let spool: Spool
    let threadPool: NIOThreadPool
    let freeSpace: FreeSpaceGuard
    let logger: Logger
    /// Called when a message is in the queue (the runner tries it at once).
    let onAccepted: @Sendable () -> Void

    func authenticate(_ credentials: Credentials, mechanism: SASLMechanism, client: ClientInfo,
                      eventLoop: any EventLoop) -> EventLoopFuture<SMTPServerStateMachine.AuthenticationResult> {
        guard let authenticator = settings.current.authenticator else { return eventLoop.makeSucceededFuture(.invalidCredentials) }
        return authenticator.authenticate(credentials, mechanism: mechanism, client: client, eventLoop: eventLoop)
    }

    func transactionRefusal(client: ClientInfo) -> SMTPReply? {
        freeSpace.refusal(minimum: settings.current.configuration.limits.minimumFreeSpace)
    }

    func sessionEvent(_ event: SMTPSessionEvent, client: ClientInfo) {
        switch event {
        case .tls(let name): TLSSessionMetrics.count(.inbound, protocol: name)
        case .rejected(let reply): RelayMetrics.rejected(code: reply.code, status: reply.enhancedCode)
        }
    }

    /// The sender-domain limits are those the user logged in with: a reload in the
    /// middle of the session changes nothing for it.
    func startMessage(client: ClientInfo, envelope: Envelope, user: AuthenticatedUser?) throws(SMTPReply) -> any MessageSink {
        let current = settings.current
        let restrictedUser = user?.allowedDomains == nil ? nil : user
        return try SpoolSink(spool: spool, scrub: current.scrub, dkim: current.dkim, client: client, envelope: envelope,
                             restrictedUser: restrictedUser, configuration: current.configuration, threadPool: threadPool, logger: logger, onAccepted: onAccepted)
    }
}
