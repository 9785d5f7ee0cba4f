import SMTPCore

/// TLS for outbound sessions (RFC 3207): `[delivery] tls`, and per route.
public enum TLSPolicy: String, Sendable, CaseIterable {
    case none
    case opportunistic
    case required
    /// Required, and the certificate must chain to a trusted root and name the MX
    /// or route host.
    case verify
    /// DANE (RFC 7672) for MX hosts with DNSSEC-validated TLSA records, else
    /// opportunistic. On a route or the smarthost (no MX lookup): opportunistic.
    case dane
    /// DANE or no delivery: MX hosts without DNSSEC-validated TLSA records are not
    /// used. On a route or the smarthost: required.
    case daneOnly = "dane-only"
}

/// A next hop given as `[host]:port`, with no MX lookup: a route or the smarthost.
public struct Hop: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "[\(host)]:\(port)" }
}

/// Where mail goes, as the configuration says (rebuilt at each reload): routes per
/// domain, the smarthost, the TLS policies, and the names Veil uses.
public struct RoutingTable: Sendable {
    /// `[[delivery.domain]]`: a domain's own next hop and TLS policy.
    public struct DomainRoute: Sendable {
        /// In its ASCII (IDNA) form.
        public var domain: String
        public var route: Hop?
        public var tls: TLSPolicy?

        public init(domain: String, route: Hop?, tls: TLSPolicy?) {
            self.domain = domain
            self.route = route
            self.tls = tls
        }
    }

    /// Set in smarthost mode: every domain without a route goes there.
    public var smarthost: Hop?
    /// AUTH at the smarthost (RFC 4954).
    public var smarthostCredentials: Credentials?
    public var tls: TLSPolicy
    public var domains: [DomainRoute]
    /// The EHLO name (`[delivery] helo_name`).
    public var heloName: String
    /// `hostname`: a next hop greeting with it is this relay too (a loop).
    public var hostname: String

    public init(smarthost: Hop?, smarthostCredentials: Credentials?, tls: TLSPolicy, domains: [DomainRoute],
                heloName: String, hostname: String) {
        self.smarthost = smarthost
        self.smarthostCredentials = smarthostCredentials
        self.tls = tls
        self.domains = domains
        self.heloName = heloName
        self.hostname = hostname
    }
}
