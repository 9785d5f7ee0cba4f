import PolicyRecords
import SMTPCore

/// What one connection must get from TLS before a message goes: decided per MX
/// host from the configured policy and what DNSSEC (RFC 7672) or MTA-STS (RFC 8461)
/// proved about that host.
public enum TLSRequirement: Sendable, Equatable {
    /// Never STARTTLS (`tls = "none"`).
    case none
    /// STARTTLS when offered, certificate not checked (RFC 3207 §4.1 as most MTAs do it).
    case opportunistic
    /// STARTTLS mandatory, certificate not checked (`required`; DANE with TLSA
    /// records none of which is usable, RFC 7672 §2.2).
    case encrypted
    /// STARTTLS mandatory, the chain to a trusted root and the host's name (the
    /// server name sent, RFC 6125 §6): `verify`, and MTA-STS in enforce mode.
    case pkix
    /// STARTTLS when offered (mandatory if `mandatory`); the certificate is checked
    /// as `pkix` would, but only noted, never refused: an MTA-STS policy in testing
    /// mode (RFC 8461 §5), whose failures go into the TLS reports.
    case observed(mandatory: Bool)
    /// STARTTLS mandatory, the certificate matched by a usable TLSA record (RFC 7672
    /// §3.1); DANE-TA chains are checked against `names` (§3.2.2).
    case dane(records: [TLSARecord], names: [String])

    /// What the client state machine does when STARTTLS is missing or refused.
    public var clientPolicy: SMTPClientStateMachine.TLSPolicy {
        switch self {
        case .none: return .none
        case .opportunistic, .observed(mandatory: false): return .opportunistic
        case .encrypted, .pkix, .dane, .observed(mandatory: true): return .required
        }
    }
}

extension SMTPClientStateMachine.Configuration {
    /// The same, with the TLS policy of one connection.
    func with(tls: SMTPClientStateMachine.TLSPolicy) -> Self {
        var copy = self
        copy.tls = tls
        return copy
    }
}
