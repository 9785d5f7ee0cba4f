import Delivery
import NIOPosix
import Outbound
import PolicyRecords

/// `veil tls check DOMAIN`: what Veil finds about a recipient domain's TLS (its MX
/// hosts and their DNSSEC status, their TLSA records, its MTA-STS policy) and what
/// it would require of each host under the configuration, without sending mail.
public enum TLSPolicyCheck {
    public static func run(configurationPath: String, domain: String) async throws(ConfigError) -> [String] {
        let configuration = try Configuration.load(path: configurationPath)
        var (anchor, warnings) = try configuration.trustAnchor()
        let (hop, policy, _) = Router(try RoutingTable(configuration: configuration)).hop(for: domain)
        guard case .mx = hop else {
            let fixed = HostTLSPolicy.fixed(policy)
            return ["\(domain): tls = \"\(policy.rawValue)\"",
                    "routed to \(hop) (no MX lookup): \(describe(fixed.requirement, host: "the route's host"))"
                    + " (tls_policy=\(fixed.name))"]
        }
        // As the daemon makes it: validation off when the resolvers strip DNSSEC.
        let (resolver, probeWarning) = try configuration.checkedDNSResolver(trustAnchor: anchor)
        if let probeWarning {
            warnings.append(probeWarning)
            anchor = nil
        }
        var lines = warnings.map { "\($0)" }
        lines.append("\(domain): tls = \"\(policy.rawValue)\", mta_sts = \(configuration.delivery.mtaSTS)"
                     + ", DNSSEC validation \(anchor.map { "from \($0)" } ?? "off")")
        let mxResolver = MXResolver(resolver: resolver)
        let hosts: [MXResolver.Host]
        switch mxResolver.resolve(domain) {
        case .hosts(let found): hosts = found
        case .nullMX: return lines + ["null MX (RFC 7505): the domain takes no mail"]
        case .noSuchDomain: return lines + ["the domain does not exist, or has no MX and no address"]
        case .invalidDomain(let reason): return lines + ["not a valid domain name: \(reason)"]
        case .temporaryFailure(let reason): return lines + ["no answer: \(reason)"]
        }

        let internalNetworks = InternalNetworks(allowed: configuration.delivery.allowNetworks)
        var sts: MTASTSPolicy?
        if configuration.delivery.mtaSTS && [.dane, .opportunistic, .required].contains(policy),
           let ascii = try? IDNA.toASCII(domain) {
            let found = await mtaSTS(ascii, mxResolver: mxResolver, configuration: configuration, networks: internalNetworks)
            sts = found.policy
            lines.append(found.line)
        }
        for host in hosts {
            let addresses = host.addresses.map { internalNetworks.mayConnect(to: $0) ? $0 : "\($0) (internal network: not used)" }
            lines.append("MX \(host.name): \(addresses.joined(separator: ", ")); DNSSEC \(host.secure ? "secure" : "insecure")")
            var tlsa: (lookup: DNSResolver.Lookup, base: String)?
            if HostTLSPolicy.looksUpTLSA(policy, host: host) {
                let found = HostTLSPolicy.lookUpTLSA(host, resolver: resolver)
                tlsa = found
                lines.append("  TLSA _25._tcp.\(found.base): \(describe(found.lookup))")
            }
            switch HostTLSPolicy.mxHost(policy, host: host, tlsa: tlsa?.lookup, tlsaBase: tlsa?.base, sts: sts) {
            case .connect(let decided):
                lines.append("  Veil requires: \(describe(decided.requirement, host: host.name)) (tls_policy=\(decided.name))")
            case .skip(let reason):
                lines.append("  Veil does not use this host: \(reason)")
            }
        }
        // Names and reasons come from DNS and remote servers: escaped for the terminal.
        return lines.map(DKIMRecordCheck.printable)
    }

    /// The `_mta-sts` record and the policy, fetched now (the daemon's cache is
    /// neither read nor written).
    private static func mtaSTS(_ domain: String, mxResolver: MXResolver, configuration: Configuration,
                               networks: InternalNetworks) async -> (policy: MTASTSPolicy?, line: String) {
        let fetch = MTASTSFetch(mxResolver: mxResolver,
                                fetcher: HTTPSFetcher(group: MultiThreadedEventLoopGroup.singleton, caFile: configuration.delivery.caFile),
                                dnsThreadPool: NIOThreadPool.singleton, internalNetworks: networks)
        let record: MTASTSRecord
        switch await fetch.record(domain) {
        case .success(let found): record = found
        case .failure(let failure): return (nil, "MTA-STS: \(failure)")
        }
        switch record {
        case .absent: return (nil, "MTA-STS: no v=STSv1 record at _mta-sts.\(domain)")
        case .invalid(let reason): return (nil, "MTA-STS: _mta-sts.\(domain) is invalid: \(reason)")
        case .valid(let id):
            switch await fetch.fetch(domain) {
            case .success(let policy):
                return (policy, "MTA-STS: id=\(id), mode \(policy.mode.rawValue), max_age \(policy.maxAgeSeconds)s, "
                        + "mx \(policy.mx.joined(separator: " "))")
            case .failure(let failure):
                return (nil, "MTA-STS: id=\(id), the policy cannot be fetched: \(failure.reason)")
            }
        }
    }

    private static func describe(_ lookup: DNSResolver.Lookup) -> String {
        switch lookup.answer {
        case .records(let rdata):
            let records = rdata.map { TLSARecord(rdata: $0).map { "\($0)\($0.isUsable ? "" : " (unusable)")" } ?? "(malformed)" }
            return records.joined(separator: "; ") + (lookup.secure ? "" : " (insecure: not used)")
        case .noData, .nameError: return "none\(lookup.secure ? " (proved absent)" : "")"
        case .temporaryFailure(let reason): return "lookup failed: \(reason)"
        }
    }

    private static func describe(_ requirement: TLSRequirement, host: String) -> String {
        switch requirement {
        case .none: return "plain text"
        case .opportunistic: return "STARTTLS when offered, certificate not checked"
        case .encrypted: return "STARTTLS, certificate not checked"
        case .observed(let mandatory):
            return "STARTTLS\(mandatory ? "" : " when offered"), certificate checked for the TLS report only (MTA-STS testing)"
        case .pkix: return "STARTTLS, a certificate for \(host) from a trusted root"
        case .dane: return "STARTTLS, a certificate matched by a TLSA record"
        }
    }
}
