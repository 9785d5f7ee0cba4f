import Connections
import DKIM
import Outbound
import SMTPCore

/// The whole effective configuration of a Veil instance (config/veil.toml, docs/architecture.md).
///
/// Every default is the initial value of its property, here and nowhere else; the
/// keys that fill the properties are declared once, in Config/Keys (``ConfigKey``).
public struct Configuration: Sendable {
    /// The file it was read from.
    public var file = ""
    public var hostname = "localhost"
    public var spoolDirectory = "/var/lib/veil"
    public var spoolDirectoryLine: Int?
    /// The Unix socket `veil queue` talks to the daemon through. Empty until the
    /// loader puts in its default, `veil.sock` in $RUNTIME_DIRECTORY or the spool.
    public var controlSocket = ""
    public var controlSocketLine: Int?
    public var listeners: [Listener] = []
    public var tls = TLS()
    public var auth = Auth()
    public var limits = Limits()
    public var scrub = Scrub()
    public var delivery = Delivery()
    public var dns = DNS()
    public var log = Log()
    public var metrics = Metrics()
    public var dkim: [DKIM] = []
    public var tlsReports = TLSReports()

    public struct Listener: Sendable {
        /// Required: the loader refuses a listener without one.
        public var name = ""
        public var host = "0.0.0.0"
        public var port = 25
        public var tls = TLSMode.starttls
        public var auth = AuthMode.required
        /// `auth_without_tls`: the admin's consent to AUTH on a `tls = "none"` listener.
        public var authWithoutTLS = false
        public var relayNetworks: [CIDR] = []
        /// A HAProxy PROXY v1/v2 header comes first; its address is the client's.
        public var proxyProtocol = false
        /// The load balancers allowed to send PROXY headers (set explicitly whenever
        /// proxyProtocol is on).
        public var proxyNetworks: [CIDR] = []
        /// Where `[[listener]]` stands in the file, for errors found later (bind).
        public var line = 0
    }

    /// Inbound TLS (the listeners' certificate and protocol policy).
    public struct TLS: Sendable {
        public var certificate: String?
        public var privateKey: String?
        public var minimumVersion = Version.v1_2
        /// TLS 1.3 is offered only when this is `.v1_3`: swift-nio-ssl cannot stop the
        /// TLS 1.3 session tickets that make Microsoft's SMTP client abort STARTTLS
        /// (docs/exchange.md). Not in the file: the loader makes it `minimumVersion`.
        public var maximumVersion = Version.v1_2
        /// OpenSSL-style cipher string for TLS 1.2 (TLSCipherString); TLS 1.3 suites are fixed.
        public var ciphers = TLS.defaultCiphers
        public var certificateLine: Int?
        public var privateKeyLine: Int?
        public var ciphersLine: Int?

        public enum Version: String, Sendable, CaseIterable, Comparable {
            case v1_2 = "1.2"
            case v1_3 = "1.3"

            public static func < (lhs: Version, rhs: Version) -> Bool {
                lhs == .v1_2 && rhs == .v1_3
            }
        }

        /// ECDHE (forward secret) with AEAD only, for ECDSA and RSA certificates: no
        /// static RSA key exchange, no CBC suites and so no SHA-1 MACs.
        public static let defaultCiphers = [
            "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
            "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
            "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        ].joined(separator: ":")
    }

    public struct Auth: Sendable {
        public var usersFile: String?
        public var usersFileLine: Int?
        public var maximumFailures = 5
        /// Seconds.
        public var failureWindow = 600
        /// Seconds.
        public var lockout = 900
        /// AUTH attempts hashed per second from all clients together; more get 454 4.7.0.
        public var maximumAttemptsPerSecond = 50
    }

    /// Every limit of the inbound side, in one place.
    public struct Limits: Sendable {
        public var maximumMessageSize = 50 << 20
        public var maximumRecipients = 1000
        public var maximumHeaderSize = 256 << 10
        public var maximumConnections = 1000
        public var maximumConnectionsPerIP = 50
        /// IPv6 clients count by this prefix for the per-IP connection limit and the
        /// AUTH lockout (``ClientKey``).
        public var ipv6PrefixLength = ClientKey.defaultIPv6Prefix
        /// Seconds (RFC 5321 §4.5.3.2 asks for at least 5 minutes).
        public var commandTimeout = 300
        /// Seconds.
        public var dataTimeout = 600
        public var bareNewline = BareNewlinePolicy.reject
        /// Seconds to wait before the greeting; clients that talk first get 554.
        public var greetingDelay = 0
        /// Seconds a stopping daemon gives transactions in flight (inbound and
        /// outbound) before it closes their connections.
        public var shutdownGrace = 30
        /// Negative replies before the client is disconnected with 421.
        public var maximumErrors = 20
        /// Bytes that must stay free on the spool's file system; below it MAIL gets
        /// 452 4.3.1 (delivery and bounces go on).
        public var minimumFreeSpace = 1 << 30
    }

    /// `[scrub]`: what the header rewriter removes and rewrites.
    public struct Scrub: Sendable {
        /// Which fields leave: only listed ones, or all but listed ones.
        public enum Mode: String, Sendable, CaseIterable {
            case allowlist
            case denylist
        }
        public enum Profile: String, Sendable, CaseIterable {
            case exchange
            case none
        }
        public enum MessageIDMode: String, Sendable, CaseIterable {
            case rewrite
            case keep
        }
        public enum ReceivedMode: String, Sendable, CaseIterable {
            case anonymous
            case none
        }
        public enum TNEFMode: String, Sendable, CaseIterable {
            case reject
            case remove
        }
        public var mode = Mode.allowlist
        /// The denylist of `mode = "denylist"`.
        public var profile = Profile.exchange
        public var remove: [String] = []
        public var keep: [String] = []
        public var messageID = MessageIDMode.rewrite
        public var received = ReceivedMode.anonymous
        public var maximumHops = 50
        /// Scrub the header blocks of messages forwarded as message/rfc822 parts.
        public var embeddedMessages = true
        /// A message with a TNEF (winmail.dat) part: refused, or the part removed.
        public var tnef = TNEFMode.reject
        /// The HMAC key file; nil: `scrub.key` in the spool directory, made once.
        public var secretFile: String?
        public var secretFileLine: Int?
    }

    /// `[delivery]`: where and how accepted mail goes out.
    public struct Delivery: Sendable {
        public enum Mode: String, Sendable, CaseIterable {
            case mx
            case smarthost
        }
        public typealias TLSPolicy = Outbound.TLSPolicy
        public typealias Hop = Outbound.Hop
        public struct DomainRoute: Sendable {
            /// Required; in its ASCII (IDNA) form.
            public var domain = ""
            public var route: Hop?
            /// The loader puts in [delivery] `tls` when the route has none.
            public var tls: TLSPolicy?
        }
        public var mode = Mode.mx
        public var smarthost: Hop?
        public var smarthostUser: String?
        public var smarthostPasswordFile: String?
        public var smarthostPasswordFileLine: Int?
        public var tls = TLSPolicy.dane
        public var tlsLine: Int?
        /// Recipient domains' MTA-STS policies apply (RFC 8461).
        public var mtaSTS = true
        /// More trusted roots (PEM) for `verify`, besides the system's.
        public var caFile: String?
        public var caFileLine: Int?
        public var concurrency = 100
        public var concurrencyPerDomain = 10
        public var messagesPerConnection = 100
        /// Seconds after each failed attempt; the last repeats.
        public var retry = [60, 300, 900, 1800, 3600, 7200, 14400]
        /// Seconds after which undelivered mail is given up.
        public var maximumLifetime = 5 * 86400
        /// The loader puts in `hostname` when the file has none.
        public var heloName: String?
        /// Seconds.
        public var connectTimeout = 30
        /// Seconds for the greeting, each reply and each block of text.
        public var commandTimeout = 300
        /// Seconds for the reply to the end of the text.
        public var dataTimeout = 600
        public var domains: [DomainRoute] = []
        /// Internal networks that MX delivery may connect to all the same (routes
        /// and the smarthost are never checked).
        public var allowNetworks: [CIDR] = []
    }

    /// `[dns]`: the resolvers for MX lookups, and DNSSEC validation.
    public struct DNS: Sendable {
        /// `"192.0.2.53"` or `"127.0.0.1@5353"`; empty: /etc/resolv.conf.
        public var servers: [String] = []
        public var serversLine: Int?
        /// DS or DNSKEY records of the root (Debian's dns-root-data package), or a
        /// zone's own; `""`: answers are not validated, and DANE is never used.
        public var trustAnchorFile = Self.rootTrustAnchor
        public var trustAnchorFileLine: Int?
        public static let rootTrustAnchor = "/usr/share/dns/root.key"
    }

    public struct Metrics: Sendable {
        /// Where the Prometheus endpoint listens; nil: no endpoint.
        public var host: String?
        public var port = 9187
        public var addressLine: Int?
    }

    /// `[[dkim]]`: a signing key (docs/dkim.md).
    public struct DKIM: Sendable {
        /// Required; kept in ASCII (A-labels), lower case.
        public var domain = ""
        public var selector = ""
        public var privateKey = ""
        public var privateKeyLine: Int?
        public var subdomains = true
        public var headers = Keyring.Entry.defaultHeaders
        /// Where `[[dkim]]` stands in the file.
        public var line = 0
    }

    /// `[tls_report]`: daily SMTP TLS reports (RFC 8460) to the policy domains
    /// that publish a `_smtp._tls` record (docs/delivery.md).
    public struct TLSReports: Sendable {
        /// The report's `organization-name`; nil: no reports, and no sessions counted.
        public var organization: String?
        /// The report's `contact-info`; the loader puts in `from` when the file has none.
        public var contact: String?
        /// The From: and envelope sender of report mail; its domain is the
        /// `TLS-Report-Submitter`. The loader puts in `postmaster@hostname` when the
        /// file has none.
        public var from: String?

        public var enabled: Bool { organization != nil }
    }

    public struct Log: Sendable {
        public enum Format: String, Sendable, CaseIterable {
            case text
            case json
        }
        public var level = "info"
        public var format = Format.text
    }
}
