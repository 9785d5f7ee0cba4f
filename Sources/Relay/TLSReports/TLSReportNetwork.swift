import Delivery
import Foundation
import NIOCore
import NIOPosix
import Outbound
import PolicyRecords
import TLSReporting

/// What sending TLS reports asks of the network, narrow so that tests can script
/// it: a policy domain's TLSRPT record, and the POST of a report to an https: URI.
protocol TLSReportNetwork: Sendable {
    /// The `_smtp._tls.<domain>` record (RFC 8460 §3), or why it could not be
    /// looked up for now (SERVFAIL, a timeout).
    func reportRecord(for domain: String) async -> Result<TLSReportRecord, TLSReportNotSent>
    /// POSTs a gzipped report (§5.4); nil when the server took it (2xx), else why not.
    func post(_ report: [UInt8], to url: URL) async -> TLSReportNotSent?
}

/// Why a report (or its record) did not get where it should, as people read it.
struct TLSReportNotSent: Error {
    var reason: String
}

/// The daemon's network: Veil's resolver (libunbound, its own threads), and
/// `HTTPSFetcher` pinned to an address Veil resolved and may connect to
/// (``InternalNetworks``, as for MX hosts and MTA-STS policy hosts).
struct LiveTLSReportNetwork: TLSReportNetwork {
    let resolver: DNSResolver
    let fetcher: HTTPSFetcher
    let dnsThreadPool: NIOThreadPool
    /// `[delivery] allow_networks`, as reloaded.
    let internalNetworks: @Sendable () -> InternalNetworks

    /// §5.4 sets no limits: those of an MTA-STS policy fetch (RFC 8461 §3.3).
    static let maximumResponseSize = 64 * 1024
    static let postTimeout = TimeAmount.seconds(60)

    func reportRecord(for domain: String) async -> Result<TLSReportRecord, TLSReportNotSent> {
        let (resolver, name) = (self.resolver, "_smtp._tls.\(domain)")
        guard let lookup = try? await dnsThreadPool.runIfActive({ resolver.lookup(name, .txt) }) else {
            return .failure(TLSReportNotSent(reason: "shutting down"))
        }
        switch lookup.answer {
        case .records(let rdata): return .success(TLSReportRecord(txtRecords: rdata.compactMap(DNSResolver.joinedText)))
        case .noData, .nameError: return .success(.absent)
        case .temporaryFailure(let reason): return .failure(TLSReportNotSent(reason: "TXT lookup for \(name): \(reason)"))
        }
    }

    func post(_ report: [UInt8], to url: URL) async -> TLSReportNotSent? {
        guard let host = url.host(percentEncoded: false), url.port == nil || url.port == 443 else {
            return TLSReportNotSent(reason: "only https: URIs with a host name on port 443 are supported")
        }
        let address: String
        switch await internalNetworks().firstPermittedAddress(of: host, resolver: MXResolver(resolver: resolver),
                                                               dnsThreadPool: dnsThreadPool) {
        case .success(let found): address = found
        case .failure(let failure): return TLSReportNotSent(reason: "\(failure)")
        }
        var path = url.path(percentEncoded: true)
        if path.isEmpty { path = "/" }
        if let query = url.query(percentEncoded: true) { path += "?" + query }
        do throws(HTTPSFetcher.Failure) {
            let response = try await fetcher.request(.POST, host: host, path: path, address: address, body: report,
                                                     contentType: TLSReport.gzipMediaType,
                                                     limit: Self.maximumResponseSize, timeout: Self.postTimeout)
            return (200..<300).contains(response.status) ? nil : TLSReportNotSent(reason: "HTTP status \(response.status)")
        } catch {
            return TLSReportNotSent(reason: "\(error)")
        }
    }
}
