import NIOCore
import SMTPCore

/// The client at the other end of a session, as limits, policy and logs see it.
public struct ClientInfo: Sendable, Equatable {
    /// IP address as text (the proxied one behind a PROXY protocol header).
    public var address: String
    public var port: Int
    public var listener: String

    public init(address: String, port: Int, listener: String) {
        self.address = address
        self.port = port
        self.listener = listener
    }
}

/// What the session handler needs from the rest of the relay: credential checks
/// and somewhere to put messages. Kept as a protocol so that SMTPNIO knows nothing
/// of users files or the queue.
public protocol SMTPServerDelegate: Sendable {
    /// Checks credentials. The future may complete on any event loop.
    func authenticate(_ credentials: Credentials, mechanism: SASLMechanism, client: ClientInfo,
                      eventLoop: any EventLoop) -> EventLoopFuture<SMTPServerStateMachine.AuthenticationResult>

    /// Whether a new mail transaction may start (asked at each MAIL that passed the
    /// session's checks): nil, or the reply that refuses it (452 4.3.1 when the
    /// spool is short of space).
    func transactionRefusal(client: ClientInfo) -> SMTPReply?

    /// Starts receiving one message for `envelope` (complete but for the text) from
    /// `user` (as it authenticated in this session); a thrown reply (4xx) is sent
    /// instead of taking it.
    func startMessage(client: ClientInfo, envelope: Envelope, user: AuthenticatedUser?) throws(SMTPReply) -> any MessageSink

    /// Something worth counting happened in a session (metrics).
    func sessionEvent(_ event: SMTPSessionEvent, client: ClientInfo)
}

public enum SMTPSessionEvent: Sendable {
    /// TLS is up ("TLSv1.3").
    case tls(protocol: String)
    /// A 4xx or 5xx reply went to the client.
    case rejected(SMTPReply)
}

extension SMTPServerDelegate {
    public func transactionRefusal(client: ClientInfo) -> SMTPReply? { nil }

    public func sessionEvent(_ event: SMTPSessionEvent, client: ClientInfo) {}
}

/// Where the text of one message goes while it is received.
public protocol MessageSink: AnyObject {
    /// Appends message text. A returned reply means the message cannot be accepted
    /// (it is sent after the end of the data; the rest of the text is dropped).
    func write(_ text: ByteBuffer) -> SMTPReply?

    /// The text is complete; a returned reply refuses the message (no commit follows).
    func finish() -> SMTPReply?

    /// Stores the complete message; succeeds with the queue id, or fails with an
    /// ``SMTPReply`` to send.
    func commit(_ envelope: Envelope, eventLoop: any EventLoop) -> EventLoopFuture<String>

    /// Drops the message (rejected, or the connection went away).
    func abort()
}
