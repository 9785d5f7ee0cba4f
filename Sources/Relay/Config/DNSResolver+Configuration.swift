import Delivery
import Foundation

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
