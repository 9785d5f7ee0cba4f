import Delivery
import Dispatch
import Foundation
import NIOConcurrencyHelpers

extension Configuration {
    /// The trust anchor the resolver validates with (RFC 4035 §4.4), nil when
    /// validation is off. A default anchor that is not installed is a warning (Veil
    /// runs, without DANE); one named in the file that cannot be read is an error,
    /// and so is `dane-only` without validation (it would deliver nothing).
    func trustAnchor() throws(ConfigError) -> (path: String?, warnings: [ConfigError]) {
        let dns = self.dns
        func problem(_ text: String) -> ConfigError {
            ConfigError(file: file, line: dns.trustAnchorFileLine, key: "dns.trust_anchor_file", problem: text)
        }
        var path: String? = dns.trustAnchorFile.isEmpty ? nil : dns.trustAnchorFile
        var warnings: [ConfigError] = []
        if let anchor = path, !FileManager.default.isReadableFile(atPath: anchor) {
            guard dns.trustAnchorFileLine == nil else { throw problem("\(anchor) cannot be read") }
            warnings.append(problem("warning: \(anchor) is not installed (Debian: apt install dns-root-data): "
                                    + "answers are not DNSSEC-validated and DANE is not used"))
            path = nil
        }
        let daneOnly = delivery.tls == .daneOnly || delivery.domains.contains { $0.tls == .daneOnly }
        if path == nil && daneOnly && delivery.mode == .mx {
            throw ConfigError(file: file, line: delivery.tlsLine, key: "delivery.tls",
                              problem: "\"dane-only\" needs DNSSEC validation: set [dns] trust_anchor_file")
        }
        return (path, warnings)
    }

    /// The daemon's resolver, validating from `trustAnchor` when the resolvers pass
    /// DNSSEC records on: the anchor zone's own DNSKEY set must come back secure.
    /// Resolvers that strip signatures would make every answer bogus, and all mail
    /// wait: then validation is off, with a warning (an error under `dane-only`). No
    /// answer within `wait` (a network still coming up): validation stays on.
    func checkedDNSResolver(trustAnchor: String?, wait: Double = 10) throws(ConfigError) -> (DNSResolver, warning: ConfigError?) {
        let resolver = try dnsResolver(trustAnchor: trustAnchor)
        guard let trustAnchor, let zone = Self.anchorZone(trustAnchor) else { return (resolver, nil) }
        let probe = NIOLockedValueBox<DNSResolver.Lookup?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            probe.withLockedValue { $0 = resolver.lookup(zone, .dnskey) }
            done.signal()
        }
        guard done.wait(timeout: .now() + wait) == .success, let lookup = probe.withLockedValue({ $0 }),
              case .temporaryFailure(let reason) = lookup.answer, reason.hasPrefix("DNSSEC") else { return (resolver, nil) }
        let problem = "DNSSEC validation fails for the trust anchor's own zone (\(zone) DNSKEY: \(reason)): the resolvers ("
            + "\(dns.servers.isEmpty ? "/etc/resolv.conf" : "[dns] servers")) do not pass DNSSEC records on, or the anchor is wrong"
        let daneOnly = delivery.tls == .daneOnly || delivery.domains.contains { $0.tls == .daneOnly }
        if daneOnly {
            throw ConfigError(file: file, line: dns.trustAnchorFileLine, key: "dns.trust_anchor_file",
                              problem: problem + ": \"dane-only\" cannot work")
        }
        let warning = ConfigError(file: file, line: dns.trustAnchorFileLine, key: "dns.trust_anchor_file",
                                  problem: "warning: " + problem + "; answers are not validated and DANE is not used")
        return (try dnsResolver(trustAnchor: nil), warning)
    }

    /// The owner of the first record in a trust anchor file ("." for the root key).
    static func anchorZone(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(whereSeparator: \.isNewline).lazy
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .first { !$0.isEmpty && !$0.hasPrefix(";") }
            .flatMap { $0.split(whereSeparator: \.isWhitespace).first.map(String.init) }
    }

    /// The resolver for MX, TLSA and TXT lookups, as `[dns]` says.
    func dnsResolver(trustAnchor: String?) throws(ConfigError) -> DNSResolver {
        do {
            return try DNSResolver(servers: dns.servers, trustAnchorFile: trustAnchor)
        } catch let error as DNSResolver.SetupError where error.trustAnchor {
            throw ConfigError(file: file, line: dns.trustAnchorFileLine, key: "dns.trust_anchor_file", problem: "\(error)")
        } catch {
            throw ConfigError(file: file, line: dns.serversLine, key: "dns.servers", problem: "\(error)")
        }
    }
}
