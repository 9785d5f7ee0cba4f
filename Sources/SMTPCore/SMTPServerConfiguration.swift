/// How a listener uses TLS (RFC 3207 STARTTLS, or RFC 8314 implicit TLS).
public enum TLSMode: String, Sendable, CaseIterable {
    case none
    case starttls
    case implicit
}

/// Whether a listener offers or demands AUTH (RFC 4954).
public enum AuthMode: String, Sendable, CaseIterable {
    /// MAIL needs AUTH unless the client is in the listener's relay networks.
    case required
    /// AUTH is offered; without it only relay-network clients may relay.
    case optional
    /// AUTH is not offered.
    case off
}

/// Everything the server session needs to know about its listener and limits.
public struct SMTPServerConfiguration: Sendable {
    public var hostname: String
    public var tlsMode: TLSMode
    public var authMode: AuthMode
    public var maximumMessageSize: Int
    public var maximumRecipients: Int
    /// Negative replies a client may cause before it is disconnected.
    public var maximumErrors: Int

    public init(hostname: String, tlsMode: TLSMode, authMode: AuthMode, maximumMessageSize: Int,
                maximumRecipients: Int, maximumErrors: Int) {
        self.hostname = hostname
        self.tlsMode = tlsMode
        self.authMode = authMode
        self.maximumMessageSize = maximumMessageSize
        self.maximumRecipients = maximumRecipients
        self.maximumErrors = maximumErrors
    }
}
