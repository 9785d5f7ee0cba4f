import Delivery
import NIOCore
import NIOPosix
import PolicyRecords
import TLSReporting

/// Fetches a domain's MTA-STS policy (RFC 8461 §3.3):
/// `https://mta-sts.<domain>/.well-known/mta-sts.txt` at an address from Veil's own
/// resolver that is not in an internal network; a 200 of text/plain, no
/// redirects, the certificate valid for the name, at most 64 KB within a minute.
public struct MTASTSFetch: Sendable {
    let mxResolver: MXResolver
    let fetcher: HTTPSFetcher
    let dnsThreadPool: NIOThreadPool
    let internalNetworks: InternalNetworks

    /// RFC 8461 §3.3: "SHOULD" be limited to 64 KB and a minute.
    static let maximumPolicySize = 64 * 1024
    static let fetchTimeout = TimeAmount.seconds(60)

    public init(mxResolver: MXResolver, fetcher: HTTPSFetcher, dnsThreadPool: NIOThreadPool,
                internalNetworks: InternalNetworks) {
        self.mxResolver = mxResolver
        self.fetcher = fetcher
        self.dnsThreadPool = dnsThreadPool
        self.internalNetworks = internalNetworks
    }

    /// Why no policy came: the result type of a TLS report (RFC 8460 §4.3.2.3), and
    /// what people read.
    public struct Failure: Error, CustomStringConvertible {
        public var type: TLSResultType
        public var reason: String
        public var description: String { reason }
    }

    /// The `_mta-sts.<domain>` TXT record (RFC 8461 §3.1); a failure when DNS gave
    /// no answer (SERVFAIL, a timeout, a bogus one).
    public func record(_ domain: String) async -> Result<MTASTSRecord, MXResolver.LookupFailure> {
        let (resolver, name) = (mxResolver.resolver, "_mta-sts.\(domain)")
        let lookup = (try? await dnsThreadPool.runIfActive { resolver.lookup(name, .txt) })
            ?? DNSResolver.Lookup(answer: .temporaryFailure("shutting down"), secure: false)
        switch lookup.answer {
        case .records(let rdata): return .success(MTASTSRecord(txtRecords: rdata.compactMap(DNSResolver.joinedText)))
        case .noData, .nameError: return .success(.absent)
        case .temporaryFailure(let reason): return .failure(.init(description: "the \(name) lookup failed: \(reason)"))
        }
    }

    /// `domain` in its ASCII form.
    public func fetch(_ domain: String) async -> Result<MTASTSPolicy, Failure> {
        let host = "mta-sts.\(domain)"
        let address: String
        switch await internalNetworks.firstPermittedAddress(of: host, resolver: mxResolver, dnsThreadPool: dnsThreadPool) {
        case .success(let found): address = found
        case .failure(let failure): return .failure(Failure(type: .stsPolicyFetchError, reason: "\(failure)"))
        }
        let response: HTTPSFetcher.Response
        do throws(HTTPSFetcher.Failure) {
            response = try await fetcher.request(host: host, path: "/.well-known/mta-sts.txt", address: address,
                                                 limit: Self.maximumPolicySize, timeout: Self.fetchTimeout)
        } catch {
            // §3.3: the policy host's certificate must be valid for its name.
            let type: TLSResultType = error.tls ? .stsWebPKIInvalid : .stsPolicyFetchError
            return .failure(Failure(type: type, reason: "https://\(host): \(error)"))
        }
        guard response.status == 200 else {
            return .failure(Failure(type: .stsPolicyFetchError, reason: "https://\(host): HTTP status \(response.status)"))
        }
        guard response.mediaType == "text/plain" else {
            return .failure(Failure(type: .stsPolicyFetchError,
                                    reason: "https://\(host): served as \(response.mediaType ?? "no media type"), not text/plain"))
        }
        do {
            return .success(try MTASTSPolicy(text: String(decoding: response.body, as: UTF8.self)))
        } catch {
            return .failure(Failure(type: .stsPolicyInvalid, reason: "https://\(host): \(error)"))
        }
    }
}
