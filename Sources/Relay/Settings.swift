import DKIM
import Logging
import MessageRewriter
import NIOConcurrencyHelpers
import NIOPosix
import NIOSSL
import Outbound

/// Everything that SIGHUP reloads, as one snapshot: the configuration, the TLS
/// certificate, the users file, the scrub rules, the DKIM keys and the outbound
/// side's settings. New sessions and each delivery pass take the current snapshot;
/// sessions already running keep their listener's settings and limits, and read the
/// users file, the scrub rules and the DKIM keys anew at each AUTH and message.
struct Settings: Sendable {
    let configuration: Configuration
    let tlsContext: NIOSSLContext?
    let authenticator: Authenticator?
    let scrub: ScrubConfiguration
    /// `[[dkim]]`: empty when nothing is signed.
    let dkim: Keyring
    /// What works but should change (a weak DKIM key): logged at start and reload.
    let warnings: [ConfigError]
    let outbound: OutboundSettings

    /// What `veil check-config` checks besides the file itself: the certificate, the
    /// users file, the smarthost password file, the DKIM keys.
    struct Loaded {
        var tlsContext: NIOSSLContext?
        var users: UsersFile?
        var router: Router
        var dkim: Keyring
        var warnings: [ConfigError]
    }

    static func check(_ configuration: Configuration) throws(ConfigError) -> Loaded {
        let tlsContext = configuration.listeners.contains(where: { $0.tls != .none })
            ? try configuration.tls.makeServerContext(configFile: configuration.file) : nil
        let users = try configuration.auth.usersFile.map { path throws(ConfigError) in
            try UsersFile.load(path: path, configFile: configuration.file, configLine: configuration.auth.usersFileLine)
        }
        var (dkim, warnings) = try Keyring.load(configuration)
        warnings += try configuration.trustAnchor().warnings
        return Loaded(tlsContext: tlsContext, users: users, router: Router(try RoutingTable(configuration: configuration)),
                      dkim: dkim, warnings: warnings)
    }

    /// Loads everything; the spool directory must exist (it may hold the scrub key).
    /// `failures` carries the AUTH lockouts over from the previous snapshot.
    static func load(_ configuration: Configuration, failures: AuthFailureTracker, passwordChecks: PasswordCheckPool,
                     logger: Logger) throws(ConfigError) -> Settings {
        let loaded = try check(configuration)
        let scrub = ScrubConfiguration(
            rules: Self.rules(configuration.scrub),
            rewriteMessageIDs: configuration.scrub.messageID == .rewrite, key: try ScrubKey.load(configuration),
            hostname: configuration.hostname, maximumHeaderSize: configuration.limits.maximumHeaderSize,
            maximumHops: configuration.scrub.maximumHops, scrubEmbeddedMessages: configuration.scrub.embeddedMessages,
            tnef: configuration.scrub.tnef == .reject ? .reject : .remove)
        let rate = AuthRateLimiter(attemptsPerSecond: configuration.auth.maximumAttemptsPerSecond)
        return Settings(configuration: configuration, tlsContext: loaded.tlsContext,
                        authenticator: loaded.users.map { Authenticator(users: $0, failures: failures, rate: rate, pool: passwordChecks, logger: logger) },
                        scrub: scrub, dkim: loaded.dkim, warnings: loaded.warnings, outbound: outbound(configuration, router: loaded.router))
    }

    static func outbound(_ configuration: Configuration, router: Router) -> OutboundSettings {
        let delivery = configuration.delivery
        return OutboundSettings(
            router: router,
            limits: .init(sessions: delivery.concurrency, sessionsPerHop: delivery.concurrencyPerDomain,
                          messagesPerSession: delivery.messagesPerConnection),
            policy: OutcomePolicy(retrySchedule: delivery.retry, maximumLifetime: delivery.maximumLifetime),
            internalNetworks: InternalNetworks(allowed: delivery.allowNetworks), hostname: configuration.hostname,
            shutdownGrace: .seconds(configuration.limits.shutdownGrace), mtaSTS: delivery.mtaSTS,
            tlsReportSender: configuration.tlsReports.enabled ? configuration.tlsReports.from : nil)
    }

    static func rules(_ scrub: Configuration.Scrub) -> ScrubRules {
        switch scrub.mode {
        case .allowlist:
            return .allowlist(keep: scrub.keep, remove: scrub.remove)
        case .denylist:
            return .denylist(profile: scrub.profile == .exchange ? ExchangeProfile.removedFields : [],
                             remove: scrub.remove, keep: scrub.keep)
        }
    }
}

/// The current ``Settings``, replaced as a whole on reload.
final class LiveSettings: Sendable {
    private let box: NIOLockedValueBox<Settings>

    init(_ settings: Settings) {
        box = NIOLockedValueBox(settings)
    }

    var current: Settings {
        box.withLockedValue { $0 }
    }

    func replace(_ settings: Settings) {
        box.withLockedValue { $0 = settings }
    }
}
