import NIOCore
import SMTPCore

/// A message for one outbound session: its envelope for this destination and the
/// spool file holding its text.
public struct OutboundMessage: Sendable {
    public var transaction: SMTPClientStateMachine.Transaction
    public var path: String

    public init(transaction: SMTPClientStateMachine.Transaction, path: String) {
        self.transaction = transaction
        self.path = path
    }
}

/// What a session knew when one of its transactions ended.
public struct TransactionContext: Sendable {
    /// Nil for plain text.
    public var tls: TLSSessionInfo?
    /// Why the session has no TLS, or not the TLS its requirement asked for.
    public var tlsFailure: TLSFailure?
    /// The address the connection came from (the sending MTA's, RFC 8460 §4.4).
    public var localAddress: String?
    /// The server offered DSN (RFC 3461): it takes over success notices.
    public var dsnOffered: Bool

    public init(tls: TLSSessionInfo?, dsnOffered: Bool) {
        self.tls = tls
        self.dsnOffered = dsnOffered
    }
}

/// What one session achieved: per message, the result of each recipient (nil for
/// messages not attempted), and why the session ended early, if it did.
public struct SessionReport: Sendable {
    public var results: [[SMTPClientStateMachine.RecipientResult]?]
    /// Set when the session failed: messages without results are to be retried.
    public var failure: String?
    /// The server's reply that ended the session, if any.
    public var failureReply: SMTPReply?
    /// Nil for plain text.
    public var tls: TLSSessionInfo?
    /// Why the session has no TLS, or not the TLS its requirement asked for.
    public var tlsFailure: TLSFailure?
    /// The address the connection came from (the sending MTA's, RFC 8460 §4.4).
    public var localAddress: String?
    /// How many messages got as far as MAIL FROM: the one at `attempted - 1` may
    /// have been cut off; those after it were not tried at all.
    public var attempted = 0

    public init(messageCount: Int) {
        results = Array(repeating: nil, count: messageCount)
    }

    /// A report with nothing in it (results come through `onTransaction`).
    public static let empty = SessionReport(messageCount: 0)
}

/// Completes a session's report once: the handler and a failed connect may both
/// try. Used only on the session's event loop.
final class SessionReporter: @unchecked Sendable {
    private let promise: EventLoopPromise<SessionReport>
    private var completed = false

    init(_ promise: EventLoopPromise<SessionReport>) {
        self.promise = promise
    }

    func complete(_ report: SessionReport) {
        promise.futureResult.eventLoop.preconditionInEventLoop()
        guard !completed else { return }
        completed = true
        promise.succeed(report)
    }
}

/// How long a next hop may take (RFC 5321 §4.5.3.2 client timeouts).
public struct DeliveryTimeouts: Sendable {
    /// The greeting, each command's reply, each block of text written (RFC: 5
    /// minutes, 3 for a block).
    public var command: TimeAmount
    /// The reply to the end of the text (RFC: 10 minutes).
    public var finalReply: TimeAmount

    public init(command: TimeAmount, finalReply: TimeAmount) {
        self.command = command
        self.finalReply = finalReply
    }
}
