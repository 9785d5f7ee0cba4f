import Connections
import Delivery

/// `[delivery]`: where and how accepted mail goes out.
extension Configuration.Delivery: ConfigSection {
    static let keys: [ConfigKey<Configuration.Delivery>] = [
        .choice("mode", \.mode, reload: .needsRestart, doc: "\"mx\": to each domain's MX hosts; \"smarthost\": all through smarthost."),
        .hop("smarthost", \.smarthost, doc: "Next hop in smarthost mode: \"[host]:port\" or \"host:port\"."),
        .string("smarthost_user", \.smarthostUser, doc: "AUTH PLAIN user at the smarthost (TLS is then required)."),
        .path("smarthost_password_file", \.smarthostPasswordFile, doc: "The smarthost password, on the file's first line.")
            .recordingLine(in: \.smarthostPasswordFileLine),
        .choice("tls", \.tls, doc: "Outbound TLS: \"dane\", \"dane-only\", \"opportunistic\", \"required\", \"verify\" or \"none\" (docs/delivery.md).")
            .recordingLine(in: \.tlsLine),
        .boolean("mta_sts", \.mtaSTS, doc: "Apply recipient domains' MTA-STS policies (RFC 8461) where DANE does not."),
        .path("tls_ca_file", \.caFile, reload: .needsRestart, doc: "More trusted roots (PEM) for \"verify\" and MTA-STS, besides the system's.")
            .recordingLine(in: \.caFileLine),
        .integer("concurrency", \.concurrency, in: 1...10_000, doc: "Outbound sessions at once in all."),
        .integer("concurrency_per_domain", \.concurrencyPerDomain, in: 1...10_000, doc: "Outbound sessions at once per next hop."),
        .integer("messages_per_connection", \.messagesPerConnection, in: 1...100_000,
                 doc: "Messages sent over one connection before it is closed."),
        .durations("retry", \.retry, doc: "Waits after each failed attempt; the last one repeats."),
        .duration("max_lifetime", \.maximumLifetime, doc: "Undelivered after this long: given up."),
        .string("helo_name", \.heloName, doc: "Name in our EHLO; default hostname."),
        .networks("allow_networks", \.allowNetworks, doc: "Internal networks MX delivery may connect to all the same."),
        .duration("connect_timeout", \.connectTimeout, reload: .needsRestart, doc: "Time allowed to open a connection."),
        .duration("command_timeout", \.commandTimeout, reload: .needsRestart,
                  doc: "Time for the greeting, each reply and each block of text we write."),
        .duration("data_timeout", \.dataTimeout, reload: .needsRestart, doc: "Time for the reply to the end of the text."),
    ]

    static let children: [ConfigChild<Configuration.Delivery>] = [.array("domain", \.domains)]

    static func finish(_ delivery: inout Configuration.Delivery, _ reader: TableReader) throws(ConfigError) {
        if delivery.mode == .smarthost && delivery.smarthost == nil {
            throw reader.error("smarthost", "needed with mode = \"smarthost\"")
        }
        if (delivery.smarthostUser == nil) != (delivery.smarthostPasswordFile == nil) {
            throw reader.error(delivery.smarthostUser == nil ? "smarthost_user" : "smarthost_password_file",
                               "smarthost_user and smarthost_password_file go together")
        }
        // A route inherits what DANE means without an MX lookup: opportunistic for
        // "dane", required for "dane-only" (docs/delivery.md).
        for index in delivery.domains.indices where delivery.domains[index].tls == nil {
            let hasRoute = delivery.domains[index].route != nil
            switch delivery.tls {
            case .dane where hasRoute: delivery.domains[index].tls = .opportunistic
            case .daneOnly where hasRoute: delivery.domains[index].tls = .required
            default: delivery.domains[index].tls = delivery.tls
            }
        }
    }
}

/// `[[delivery.domain]]`: a route of its own for one recipient domain.
extension Configuration.Delivery.DomainRoute: ConfigSection {
    static let keys: [ConfigKey<Configuration.Delivery.DomainRoute>] = [
        .string("domain", \.domain, doc: "The recipient domain, in Unicode or its xn-- form; required."),
        .hop("route", \.route, doc: "Next hop instead of the MX lookup: \"[host]:port\"."),
        .choice("tls", \.tls, doc: "Outbound TLS for this domain; default [delivery] tls."),
    ]

    static func finish(_ route: inout Configuration.Delivery.DomainRoute, _ reader: TableReader) throws(ConfigError) {
        guard !route.domain.isEmpty else { throw reader.error("domain", "every [[delivery.domain]] needs a domain") }
        if route.route != nil, let tls = route.tls, tls == .dane || tls == .daneOnly {
            throw reader.error("tls", "\"\(tls.rawValue)\" needs the MX lookup (RFC 7672): a route has no DNSSEC-validated host name; use \"verify\" or \"required\"")
        }
        // Kept in its ASCII form, as recipient domains are compared (Router).
        do {
            route.domain = try IDNA.toASCII(route.domain)
        } catch {
            throw reader.error("domain", "\"\(route.domain)\" is not a valid domain name: \(error.reason)")
        }
    }
}

/// `[dns]`: the resolvers for MX lookups, and DNSSEC validation.
extension Configuration.DNS: ConfigSection {
    static let keys: [ConfigKey<Configuration.DNS>] = [
        .strings("servers", \.servers, reload: .needsRestart, doc: "Resolvers, \"192.0.2.53\" or \"127.0.0.1@5353\"; empty: /etc/resolv.conf.",
                 check: { server in
                     let parts = server.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
                     let valid = CIDR.bytes(of: String(parts[0])) != nil
                         && (parts.count == 1 || Int(parts[1]).map({ (1...65535).contains($0) }) == true)
                     return valid ? nil : "\"\(server)\" is not an IP address, optionally with @port"
                 }).recordingLine(in: \.serversLine),
        .pathOrOff("trust_anchor_file", \.trustAnchorFile, reload: .needsRestart,
                   doc: "DNSSEC trust anchor (DS or DNSKEY records) for DANE; \"\": no validation, no DANE.")
            .recordingLine(in: \.trustAnchorFileLine),
    ]
}
