import Delivery
import NIOCore
import SMTPCore

/// What the queue runner needs of outbound SMTP (as chasquid's Courier): one
/// session to a host with the messages given, and more fetched while it runs;
/// each transaction's results as soon as they are known; and a way to end every
/// session at once. ``DeliveryClient`` is the real one; tests script the replies.
public protocol DeliveryTransport: Sendable {
    /// Never fails: a session that cannot be held is a report with `failure` set.
    /// `onTransaction` gets each message's index (those given, then those
    /// `fetchMore` added), its recipients' results and what the session knew then.
    func deliver(_ messages: [OutboundMessage], host: String, port: Int, serverName: String?, tls: TLSRequirement,
                 configuration: SMTPClientStateMachine.Configuration,
                 fetchMore: (@Sendable (any EventLoop) -> EventLoopFuture<[OutboundMessage]>)?,
                 onTransaction: @escaping @Sendable (Int, [SMTPClientStateMachine.RecipientResult], TransactionContext) -> Void)
        -> EventLoopFuture<SessionReport>

    /// Ends every running session (the stopping daemon's grace period is over).
    func closeAll()
}

extension DeliveryClient: DeliveryTransport {}
