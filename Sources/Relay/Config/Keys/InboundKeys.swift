/// `[tls]`: the listeners' certificate and protocol policy.
extension Configuration.TLS: ConfigSection {
    static let keys: [ConfigKey<Configuration.TLS>] = [
        .path("certificate", \.certificate, doc: "PEM certificate chain; required when a listener uses TLS.")
            .recordingLine(in: \.certificateLine),
        .path("private_key", \.privateKey, doc: "PEM private key; required when a listener uses TLS.")
            .recordingLine(in: \.privateKeyLine),
        .choice("min_version", \.minimumVersion, doc: "Lowest TLS version accepted: \"1.2\" or \"1.3\"."),
        .choice("max_version", \.maximumVersion, doc: "Highest TLS version offered; default min_version (docs/exchange.md)."),
        .string("ciphers", \.ciphers, doc: "TLS 1.2 cipher suites as an OpenSSL cipher string.", check: cipherStringProblem)
            .recordingLine(in: \.ciphersLine),
    ]

    static func finish(_ tls: inout Configuration.TLS, _ reader: TableReader) throws(ConfigError) {
        // TLS 1.3 only when asked for (max_version, or min_version = "1.3"): docs/exchange.md.
        if reader.table["max_version"] == nil { tls.maximumVersion = tls.minimumVersion }
        guard tls.maximumVersion >= tls.minimumVersion else {
            throw reader.error("max_version", "\"\(tls.maximumVersion.rawValue)\" is below min_version \"\(tls.minimumVersion.rawValue)\"")
        }
    }

    /// What BoringSSL would refuse in a cipher string (it would stop the process
    /// inside NIOSSL), or nil.
    @Sendable private static func cipherStringProblem(_ ciphers: String) -> String? {
        do {
            _ = try TLSCipherString.enabledSuites(ciphers)
            return nil
        } catch {
            return error.message
        }
    }

    /// The suites the cipher string enables.
    func comments() -> [String] {
        guard let suites = try? TLSCipherString.enabledSuites(ciphers) else { return [] }
        // PSK suites are never chosen: Veil has no pre-shared keys.
        let usable = suites.filter { $0.authentication != TLSCipherString.aPSK }
        return ["# TLS 1.2 suites: \(usable.map(\.name).joined(separator: " "))"]
    }
}

/// `[auth]`: the users file and the AUTH lockout.
extension Configuration.Auth: ConfigSection {
    static let keys: [ConfigKey<Configuration.Auth>] = [
        .path("users_file", \.usersFile, doc: "user:HASH[:domains] lines; required when a listener has auth != \"off\".")
            .recordingLine(in: \.usersFileLine),
        .integer("max_failures", \.maximumFailures, in: 1...1_000_000, reload: .needsRestart,
                 doc: "Failed AUTH attempts within failure_window before a client is locked out."),
        .duration("failure_window", \.failureWindow, reload: .needsRestart, doc: "The window of max_failures, from the first failure."),
        .duration("lockout", \.lockout, reload: .needsRestart, doc: "How long a locked-out client gets 454 4.7.0."),
        .integer("max_attempts_per_second", \.maximumAttemptsPerSecond, in: 1...1_000_000,
                 doc: "Password checks per second from all clients together."),
    ]
}

/// `[limits]`: every limit of the inbound side.
extension Configuration.Limits: ConfigSection {
    static let keys: [ConfigKey<Configuration.Limits>] = [
        .size("max_message_size", \.maximumMessageSize, doc: "Larger messages get 552 5.3.4."),
        .integer("max_recipients", \.maximumRecipients, in: 1...100_000, doc: "Recipients per message; more get 452 4.5.3."),
        .size("max_header_size", \.maximumHeaderSize, doc: "A larger header block gets 554 5.6.0."),
        .integer("max_connections", \.maximumConnections, in: 1...1_000_000, reload: .needsRestart,
                 doc: "Open connections in all; more get 421 4.7.0."),
        .integer("max_connections_per_ip", \.maximumConnectionsPerIP, in: 1...1_000_000, reload: .needsRestart,
                 doc: "Open connections from one client; more get 421 4.7.0."),
        .integer("ipv6_prefix", \.ipv6PrefixLength, in: ClientKey.ipv6PrefixRange, reload: .needsRestart,
                 doc: "IPv6 clients that share this many leading bits are one client."),
        .duration("command_timeout", \.commandTimeout, doc: "Idle time allowed while waiting for a command."),
        .duration("data_timeout", \.dataTimeout, doc: "Idle time allowed while waiting for message data."),
        .choice("bare_newline", \.bareNewline, doc: "A CR or LF not part of CRLF: \"reject\" or \"normalize\"."),
        .duration("greeting_delay", \.greetingDelay, doc: "Wait before the greeting; clients that talk first get 554."),
        .integer("max_errors", \.maximumErrors, in: 1...10_000, doc: "Failed commands before the client is disconnected."),
        .duration("shutdown_grace", \.shutdownGrace, doc: "How long a stopping daemon lets transactions and deliveries finish."),
        .size("min_free_space", \.minimumFreeSpace, doc: "Below this free on the spool's file system, MAIL gets 452 4.3.1."),
    ]
}
