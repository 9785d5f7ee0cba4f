import Foundation

extension Configuration {
    /// The configuration as `veil check-config` prints it: TOML with every value in
    /// force, defaults included.
    public var effectiveDescription: String {
        var lines = [
            "# effective configuration of \(file)",
            "hostname = \(quoted(hostname))",
            "spool_dir = \(quoted(spoolDirectory))",
            "control_socket = \(quoted(controlSocket))",
        ]
        for listener in listeners {
            lines += ["", "[[listener]]", "name = \(quoted(listener.name))",
                      "address = \(quoted(listener.host.contains(":") ? "[\(listener.host)]:\(listener.port)" : "\(listener.host):\(listener.port)"))",
                      "tls = \(quoted(listener.tls.rawValue))", "auth = \(quoted(listener.auth.rawValue))",
                      "auth_without_tls = \(listener.authWithoutTLS)",
                      "relay_networks = [\(listener.relayNetworks.map { quoted($0.description) }.joined(separator: ", "))]",
                      "proxy_protocol = \(listener.proxyProtocol)",
                      "proxy_networks = [\(listener.proxyNetworks.map { quoted($0.description) }.joined(separator: ", "))]"]
        }
        lines += ["", "[tls]", "certificate = \(quoted(tls.certificate ?? ""))",
                  "private_key = \(quoted(tls.privateKey ?? ""))", "min_version = \(quoted(tls.minimumVersion.rawValue))",
                  "max_version = \(quoted(tls.maximumVersion.rawValue))", "ciphers = \(quoted(tls.ciphers))"]
        if let suites = try? TLSCipherString.enabledSuites(tls.ciphers) {
            // PSK suites are never chosen: Veil has no pre-shared keys.
            let usable = suites.filter { $0.authentication != TLSCipherString.aPSK }
            lines.append("# TLS 1.2 suites: \(usable.map(\.name).joined(separator: " "))")
        }
        lines += ["", "[auth]", "users_file = \(quoted(auth.usersFile ?? ""))", "max_failures = \(auth.maximumFailures)",
                  "failure_window = \"\(auth.failureWindow)s\"", "lockout = \"\(auth.lockout)s\"",
                  "max_attempts_per_second = \(auth.maximumAttemptsPerSecond)"]
        lines += ["", "[limits]", "max_message_size = \(limits.maximumMessageSize)",
                  "max_recipients = \(limits.maximumRecipients)", "max_header_size = \(limits.maximumHeaderSize)",
                  "max_connections = \(limits.maximumConnections)", "max_connections_per_ip = \(limits.maximumConnectionsPerIP)",
                  "ipv6_prefix = \(limits.ipv6PrefixLength)",
                  "command_timeout = \"\(limits.commandTimeout)s\"", "data_timeout = \"\(limits.dataTimeout)s\"",
                  "bare_newline = \(quoted(limits.bareNewline.rawValue))", "greeting_delay = \"\(limits.greetingDelay)s\"", "max_errors = \(limits.maximumErrors)",
                  "shutdown_grace = \"\(limits.shutdownGrace)s\"", "min_free_space = \(limits.minimumFreeSpace)"]
        lines += ["", "[scrub]", "mode = \(quoted(scrub.mode.rawValue))", "profile = \(quoted(scrub.profile.rawValue))",
                  "remove = [\(scrub.remove.map(quoted).joined(separator: ", "))]",
                  "keep = [\(scrub.keep.map(quoted).joined(separator: ", "))]",
                  "message_id = \(quoted(scrub.messageID.rawValue))", "received = \(quoted(scrub.received.rawValue))",
                  "max_hops = \(scrub.maximumHops)", "embedded_messages = \(scrub.embeddedMessages)", "tnef = \(quoted(scrub.tnef.rawValue))", "secret_file = \(quoted(scrub.secretFile ?? ""))"]
        let route = { (hop: Configuration.Delivery.Hop?) in quoted(hop?.description ?? "") }
        lines += ["", "[delivery]", "mode = \(quoted(delivery.mode.rawValue))", "smarthost = \(route(delivery.smarthost))",
                  "smarthost_user = \(quoted(delivery.smarthostUser ?? ""))",
                  "smarthost_password_file = \(quoted(delivery.smarthostPasswordFile ?? ""))",
                  "tls = \(quoted(delivery.tls.rawValue))", "tls_ca_file = \(quoted(delivery.caFile ?? ""))",
                  "concurrency = \(delivery.concurrency)",
                  "concurrency_per_domain = \(delivery.concurrencyPerDomain)",
                  "messages_per_connection = \(delivery.messagesPerConnection)",
                  "retry = [\(delivery.retry.map { "\"\($0)s\"" }.joined(separator: ", "))]",
                  "max_lifetime = \"\(delivery.maximumLifetime)s\"", "helo_name = \(quoted(delivery.heloName ?? hostname))",
                  "allow_networks = [\(delivery.allowNetworks.map { quoted($0.description) }.joined(separator: ", "))]",
                  "connect_timeout = \"\(delivery.connectTimeout)s\"",
                  "command_timeout = \"\(delivery.commandTimeout)s\"", "data_timeout = \"\(delivery.dataTimeout)s\""]
        for domain in delivery.domains {
            lines += ["", "[[delivery.domain]]", "domain = \(quoted(domain.domain))", "route = \(route(domain.route))",
                      "tls = \(quoted((domain.tls ?? delivery.tls).rawValue))"]
        }
        lines += ["", "[dns]", "servers = [\(dns.servers.map(quoted).joined(separator: ", "))]"]
        lines += ["", "[log]", "level = \(quoted(log.level))", "format = \(quoted(log.format.rawValue))"]
        if let host = metrics.host {
            lines += ["", "[metrics]", "address = \(quoted(host.contains(":") ? "[\(host)]:\(metrics.port)" : "\(host):\(metrics.port)"))"]
        }
        return lines.joined(separator: "\n")
    }

    private func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
