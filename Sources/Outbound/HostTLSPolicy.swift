import Delivery
import PolicyRecords

/// The TLS one connection is held to: from the hop's configured policy and, for an
/// MX host under `dane` or `dane-only`, what DNSSEC proved about it (RFC 7672 §2.2).
public struct HostTLSPolicy: Sendable, Equatable {
    public var requirement: TLSRequirement
    /// The policy in force for this connection, as logged (`tls_policy=`).
    public var name: String
    /// The name sent in SNI when it is not the MX host's: DANE's TLSA base domain,
    /// the target of the host's CNAME (RFC 7672 §8.1).
    public var serverName: String?

    public init(requirement: TLSRequirement, name: String, serverName: String? = nil) {
        self.requirement = requirement
        self.name = name
        self.serverName = serverName
    }

    /// Connect with a policy, or leave the host out (and why, for the log).
    public enum Decision: Sendable, Equatable {
        case connect(HostTLSPolicy)
        case skip(String)
    }

    /// A route or the smarthost: no MX lookup, so no DNSSEC-validated name to
    /// look TLSA records up for. `dane` is opportunistic there, `dane-only` required.
    public static func fixed(_ policy: TLSPolicy) -> HostTLSPolicy {
        switch policy {
        case .none: return HostTLSPolicy(requirement: .none, name: "none")
        case .opportunistic, .dane: return HostTLSPolicy(requirement: .opportunistic, name: "opportunistic")
        case .required, .daneOnly: return HostTLSPolicy(requirement: .encrypted, name: "required")
        case .verify: return HostTLSPolicy(requirement: .pkix, name: "verify")
        }
    }

    /// RFC 7672 §2.2: TLSA records are looked up only for a host whose MX and
    /// address records DNSSEC proved (a forged insecure answer could name any host).
    public static func looksUpTLSA(_ policy: TLSPolicy, host: MXResolver.Host) -> Bool {
        (policy == .dane || policy == .daneOnly) && host.secure
    }

    /// The TLSA base domains to try in turn (RFC 7672 §2.2.2): the target of the
    /// host's CNAME records (secure, as the host is), then its own name.
    public static func tlsaBases(of host: MXResolver.Host) -> [String] {
        guard let target = host.canonicalName, target != host.name else { return [host.name] }
        return [target, host.name]
    }

    /// The host's TLSA records at `_25._tcp.<base>` (RFC 7672 §2.3: port 25, TCP),
    /// trying the bases in turn while none are found; blocking.
    public static func lookUpTLSA(_ host: MXResolver.Host, resolver: DNSResolver) -> (lookup: DNSResolver.Lookup, base: String) {
        var found = (lookup: DNSResolver.Lookup(answer: .noData, secure: false), base: host.name)
        for base in tlsaBases(of: host) {
            found = (resolver.lookup("_25._tcp.\(base)", .tlsa), base)
            switch found.lookup.answer {
            case .records, .temporaryFailure: return found
            case .noData, .nameError: continue
            }
        }
        return found
    }

    /// An MX host. `tlsa`: the lookup of `_25._tcp.<tlsaBase>` (one of
    /// ``tlsaBases(of:)``), when ``looksUpTLSA(_:host:)`` said to make it. `sts`:
    /// the domain's MTA-STS policy, which applies where DANE does not (RFC 8461 §2)
    /// under `dane`, `opportunistic` and `required`; in enforce mode only the MX
    /// hosts it lists are used, with a PKIX-valid certificate for their name (§4.2).
    public static func mxHost(_ policy: TLSPolicy, host: MXResolver.Host, tlsa: DNSResolver.Lookup?,
                              tlsaBase: String? = nil, sts: MTASTSPolicy? = nil) -> Decision {
        let applies = [.dane, .opportunistic, .required].contains(policy)
        let enforced = applies ? sts.flatMap { $0.mode == .enforce ? $0 : nil } : nil
        let testing = applies ? sts.flatMap { $0.mode == .testing ? $0 : nil } : nil
        func withoutDANE(_ daneOnlyReason: String) -> Decision {
            if policy == .daneOnly { return .skip("dane-only: \(daneOnlyReason)") }
            if let enforced {
                return enforced.permits(mxHost: host.name)
                    ? .connect(HostTLSPolicy(requirement: .pkix, name: "mta-sts"))
                    : .skip("mta-sts: \(host.name) is not an MX host of the domain's policy (mode enforce)")
            }
            let plain = fixed(policy == .dane ? .opportunistic : policy)
            guard testing != nil, plain.requirement != .none else { return .connect(plain) }
            // §5: testing mode delivers as without a policy; the certificate is
            // checked only for the TLS report.
            return .connect(HostTLSPolicy(requirement: .observed(mandatory: plain.requirement == .encrypted), name: "mta-sts-testing"))
        }
        guard policy == .dane || policy == .daneOnly else { return withoutDANE("") }
        guard host.secure, let tlsa else { return withoutDANE("the MX or address records of \(host.name) are not DNSSEC-signed") }
        let noRecords = "\(host.name) has no DNSSEC-validated TLSA records"
        switch tlsa.answer {
        case .temporaryFailure(let reason):
            // RFC 7672 §2.2: a host whose TLSA records cannot be found out is not
            // used; the next one is tried, and with none left the mail waits.
            return .skip("TLSA lookup for _25._tcp.\(tlsaBase ?? host.name): \(reason)")
        case .noData, .nameError:
            return withoutDANE(noRecords)
        case .records(let rdata):
            // Records from an insecure zone (an unsigned delegation) prove nothing.
            guard tlsa.secure else { return withoutDANE(noRecords) }
            let usable = rdata.compactMap(TLSARecord.init(rdata:)).filter(\.isUsable)
            // §2.2: TLSA records that exist make STARTTLS mandatory, even when none
            // of them is usable (then the certificate cannot be checked).
            guard !usable.isEmpty else {
                // Not a DANE result: an enforced MTA-STS policy, stricter, still applies.
                if enforced != nil { return withoutDANE(noRecords) }
                return .connect(HostTLSPolicy(requirement: .encrypted, name: "dane"))
            }
            // §3.2.2: a DANE-TA chain must name the TLSA base domain or the MX host.
            let base = tlsaBase ?? host.name
            return .connect(HostTLSPolicy(requirement: .dane(records: usable, names: Array(Set([base, host.name])).sorted()),
                                          name: "dane", serverName: base == host.name ? nil : base))
        }
    }
}
