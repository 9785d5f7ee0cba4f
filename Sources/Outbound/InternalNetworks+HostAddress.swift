import Delivery
import NIOPosix

extension InternalNetworks {
    /// The first address of `host` (A, then AAAA, through Veil's resolver on the DNS
    /// threads) that delivery may connect to, for HTTPS peers found through DNS: an
    /// MTA-STS policy host (RFC 8461 §3.3), a TLS report endpoint (RFC 8460 §5.4).
    /// The failure says why there is none, for the log.
    public func firstPermittedAddress(of host: String, resolver: MXResolver,
                                      dnsThreadPool: NIOThreadPool) async -> Result<String, MXResolver.LookupFailure> {
        let found = (try? await dnsThreadPool.runIfActive { resolver.addresses(ofHost: host) })
            ?? .failure(.init(description: "shutting down"))
        switch found {
        case .failure(let failure): return .failure(failure)
        case .success(let addresses):
            guard let address = addresses.first(where: mayConnect) else {
                return .failure(.init(description: "\(host) is in an internal network"))
            }
            return .success(address)
        }
    }
}
