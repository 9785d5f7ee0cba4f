#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where mail for a domain goes (RFC 5321 §5.1): its MX hosts in preference order,
/// shuffled among equal preference, at most five; the domain itself when it has no
/// MX (implicit MX); nowhere when it publishes a null MX (RFC 7505) or does not exist.
public struct MXResolver: Sendable {
    public struct Host: Sendable, Equatable {
        public var name: String
        /// IPv4 first, then IPv6.
        public var addresses: [String]
        /// DNSSEC proved both the MX records that named this host (or the implicit
        /// MX) and its addresses: its TLSA records may be looked up (RFC 7672 §2.2).
        public var secure: Bool
        /// Where the name's CNAME records lead, when its addresses came through
        /// them (RFC 7672 §2.2.2: TLSA records are looked up there first).
        public var canonicalName: String?

        public init(name: String, addresses: [String], secure: Bool = false, canonicalName: String? = nil) {
            self.name = name
            self.addresses = addresses
            self.secure = secure
            self.canonicalName = canonicalName
        }
    }

    public enum Outcome: Sendable, Equatable {
        case hosts([Host])
        /// `MX 0 .`: the domain accepts no mail (556 5.1.10).
        case nullMX
        /// NXDOMAIN, or no MX and no address: the domain cannot receive mail (5.1.2).
        case noSuchDomain
        /// The name has no ASCII form (UTS #46 / IDNA2008 refuse it): never looked
        /// up, the domain cannot exist (5.1.2). The reason is for people.
        case invalidDomain(String)
        /// SERVFAIL, timeouts, MX hosts without addresses: try again later.
        case temporaryFailure(String)
    }

    static let maximumHosts = 5
    /// Addresses tried per host: a hostile zone could list thousands.
    static let maximumAddressesPerHost = 4
    /// Also for the lookups that follow the MX hosts' (TLSA, RFC 7672 §2.2).
    public let resolver: DNSResolver

    public init(resolver: DNSResolver) {
        self.resolver = resolver
    }

    /// Blocking: call from a thread pool. `domain` as the recipient wrote it.
    public func resolve(_ domain: String) -> Outcome {
        do {
            return resolve(ascii: try IDNA.toASCII(domain))
        } catch {
            return .invalidDomain(error.reason)
        }
    }

    private func resolve(ascii domain: String) -> Outcome {
        let lookup = resolver.lookup(domain, .mx)
        switch lookup.answer {
        case .nameError:
            return .noSuchDomain
        case .temporaryFailure(let reason):
            return .temporaryFailure("MX lookup for \(domain): \(reason)")
        case .noData:
            // RFC 5321 §5.1: no MX, the domain's own address is the implicit MX.
            let addresses = addresses(of: domain)
            switch addresses {
            case .success(let list, _, _) where list.isEmpty: return .noSuchDomain
            case .success(let list, let secure, let canonical):
                return .hosts([Host(name: domain, addresses: list, secure: lookup.secure && secure, canonicalName: canonical)])
            case .failure(let reason): return .temporaryFailure(reason)
            }
        case .records(let records):
            let exchanges = records.compactMap(Self.parseMX)
            guard !exchanges.isEmpty else { return .temporaryFailure("MX lookup for \(domain): malformed answer") }
            if exchanges.contains(where: { $0.name.isEmpty }) { return .nullMX }
            var hosts: [Host] = []
            var reasons: [String] = []
            for exchange in Self.ordered(exchanges).prefix(Self.maximumHosts) {
                switch addresses(of: exchange.name) {
                case .success(let list, let secure, let canonical) where !list.isEmpty:
                    hosts.append(Host(name: exchange.name, addresses: list, secure: lookup.secure && secure,
                                      canonicalName: canonical))
                case .success: reasons.append("\(exchange.name) has no address")
                case .failure(let reason): reasons.append(reason)
                }
            }
            return hosts.isEmpty ? .temporaryFailure(reasons.joined(separator: "; ")) : .hosts(hosts)
        }
    }

    /// The addresses of a host that is not an MX host (an MTA-STS policy host),
    /// IPv4 first, at most four; blocking. Nil with the reason when there are none.
    public func addresses(ofHost name: String) -> Result<[String], LookupFailure> {
        switch addresses(of: name) {
        case .success(let list, _, _) where !list.isEmpty: return .success(list)
        case .success: return .failure(LookupFailure(description: "\(name) has no address"))
        case .failure(let reason): return .failure(LookupFailure(description: reason))
        }
    }

    public struct LookupFailure: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// The addresses, whether both lookups were secure, and the CNAME target.
    private enum AddressLookup { case success([String], secure: Bool, canonical: String?), failure(String) }

    private func addresses(of name: String) -> AddressLookup {
        var addresses: [String] = []
        var failures: [String] = []
        var secure = true
        var canonical: String?
        for type in [DNSResolver.RecordType.a, .aaaa] {
            let lookup = resolver.lookup(name, type)
            secure = secure && lookup.secure
            canonical = canonical ?? lookup.canonicalName.map { $0.hasSuffix(".") ? String($0.dropLast()) : $0 }
            switch lookup.answer {
            case .records(let records):
                addresses += records.compactMap(Self.formatAddress)
            case .noData, .nameError:
                break
            case .temporaryFailure(let reason):
                failures.append("\(type) lookup for \(name): \(reason)")
            }
        }
        if addresses.isEmpty && !failures.isEmpty { return .failure(failures.joined(separator: "; ")) }
        return .success(Array(addresses.prefix(Self.maximumAddressesPerHost)), secure: secure, canonical: canonical?.lowercased())
    }

    struct Exchange: Equatable {
        var preference: Int
        /// Without the trailing dot; empty for the root (null MX).
        var name: String
    }

    /// MX rdata: preference (16 bits), then the exchange as a domain name in wire
    /// format (RFC 1035 §3.3.9); libunbound hands it over uncompressed.
    static func parseMX(_ rdata: [UInt8]) -> Exchange? {
        guard rdata.count >= 3 else { return nil }
        let preference = Int(rdata[0]) << 8 | Int(rdata[1])
        var labels: [String] = []
        var index = 2
        while index < rdata.count {
            let length = Int(rdata[index])
            if length == 0 { return Exchange(preference: preference, name: labels.joined(separator: ".").lowercased()) }
            guard length < 64, index + 1 + length <= rdata.count else { return nil }
            labels.append(String(decoding: rdata[(index + 1)...(index + length)], as: UTF8.self))
            index += 1 + length
        }
        return nil
    }

    /// By preference, shuffled among equals (RFC 5321 §5.1).
    static func ordered(_ exchanges: [Exchange]) -> [Exchange] {
        Dictionary(grouping: exchanges, by: \.preference).sorted { $0.key < $1.key }.flatMap { $0.value.shuffled() }
    }

    /// An A or AAAA record's address in its usual text form (`2001:db8::1`).
    static func formatAddress(_ rdata: [UInt8]) -> String? {
        let family: Int32
        switch rdata.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(family, rdata, &text, socklen_t(text.count)) != nil else { return nil }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
