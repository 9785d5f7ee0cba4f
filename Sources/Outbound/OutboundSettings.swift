import Foundation

/// What the outbound side reads of the configuration, as one snapshot: the daemon
/// builds it at start and at each reload (SIGHUP); a delivery pass and each
/// session read it once, so a reload applies from the next pass on.
public struct OutboundSettings: Sendable {
    public var router: Router
    /// `[delivery] concurrency`, `concurrency_per_domain`, `messages_per_connection`.
    public var limits: DeliveryPlanner.Limits
    /// `[delivery] retry`, `max_lifetime`.
    public var policy: OutcomePolicy
    /// `[delivery] allow_networks`: where MX addresses may point.
    public var internalNetworks: InternalNetworks
    /// Veil's name in reports to senders (RFC 3464 Reporting-MTA, their Message-IDs).
    public var hostname: String
    /// `[limits] shutdown_grace`: how long sessions may go on after SIGTERM.
    public var shutdownGrace: Duration
    /// `[delivery] mta_sts`: recipient domains' MTA-STS policies apply (RFC 8461).
    public var mtaSTS: Bool
    /// `[tls_report]` is set: TLS session results are counted for the reports
    /// (RFC 8460), but for sessions that carry only report mail, from this sender
    /// (`[tls_report] from`): reports are not about reports.
    public var tlsReportSender: String?

    public init(router: Router, limits: DeliveryPlanner.Limits, policy: OutcomePolicy, internalNetworks: InternalNetworks,
                hostname: String, shutdownGrace: Duration, mtaSTS: Bool = false,
                tlsReportSender: String? = nil) {
        self.router = router
        self.limits = limits
        self.policy = policy
        self.internalNetworks = internalNetworks
        self.hostname = hostname
        self.shutdownGrace = shutdownGrace
        self.mtaSTS = mtaSTS
        self.tlsReportSender = tlsReportSender
    }
}
