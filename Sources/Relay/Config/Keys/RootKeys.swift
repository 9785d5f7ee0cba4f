import Foundation

/// The top of the file, its tables in the order `veil check-config` prints them, and
/// the checks that span tables.
extension Configuration: ConfigSection {
    static let keys: [ConfigKey<Configuration>] = [
        .string("hostname", \.hostname, doc: "Name in the SMTP banner, the EHLO reply, Received and Message-ID.",
                check: { $0.isEmpty || $0.contains(" ") ? "must be a host name" : nil }),
        .path("spool_dir", \.spoolDirectory, reload: .needsRestart,
              doc: "The queue: queue.sqlite, messages/, incoming/.").recordingLine(in: \.spoolDirectoryLine),
        .path("control_socket", \.controlSocket, reload: .needsRestart,
              doc: "The Unix socket of `veil queue`; default veil.sock in $RUNTIME_DIRECTORY, else in spool_dir.")
            .recordingLine(in: \.controlSocketLine),
    ]

    static let children: [ConfigChild<Configuration>] = [
        .array("listener", \.listeners), .table("tls", \.tls), .table("auth", \.auth), .table("limits", \.limits),
        .table("scrub", \.scrub), .table("delivery", \.delivery), .table("dns", \.dns), .table("log", \.log),
        .table("metrics", \.metrics, printedWhen: { $0.host != nil }), .array("dkim", \.dkim),
        .table("tls_report", \.tlsReports),
    ]

    static func finish(_ configuration: inout Configuration, _ reader: TableReader) throws(ConfigError) {
        if configuration.controlSocket.isEmpty {
            // Under systemd RuntimeDirectory= (the daemon's environment); elsewhere the spool.
            let runtimeDirectory = ProcessInfo.processInfo.environment["RUNTIME_DIRECTORY"]
            configuration.controlSocket = (runtimeDirectory ?? configuration.spoolDirectory) + "/veil.sock"
        }
        let listeners = configuration.listeners
        guard !listeners.isEmpty else { throw reader.error("listener", "at least one [[listener]] is needed") }
        for (index, listener) in listeners.enumerated() where listeners[..<index].contains(where: { $0.name == listener.name }) {
            throw ConfigError(file: reader.file, line: listener.line, key: "listener.name", problem: "\"\(listener.name)\" is used twice")
        }
        if let listener = listeners.first(where: { $0.tls != .none }) {
            let needed = "needed by listener \"\(listener.name)\" (tls = \"\(listener.tls.rawValue)\")"
            if configuration.tls.certificate == nil { throw reader.child("tls").error("certificate", needed) }
            if configuration.tls.privateKey == nil { throw reader.child("tls").error("private_key", needed) }
        }
        if let listener = listeners.first(where: { $0.auth != .off }), configuration.auth.usersFile == nil {
            throw reader.child("auth").error("users_file", "needed by listener \"\(listener.name)\" (auth = \"\(listener.auth.rawValue)\")")
        }
        for (index, dkim) in configuration.dkim.enumerated()
        where configuration.dkim[..<index].contains(where: { $0.domain == dkim.domain && $0.selector == dkim.selector }) {
            throw ConfigError(file: reader.file, line: dkim.line, key: "dkim.selector",
                              problem: "\(dkim.domain) has two [[dkim]] entries with selector \"\(dkim.selector)\"; one record cannot hold both keys")
        }
        configuration.delivery.heloName = configuration.delivery.heloName ?? configuration.hostname
        let from = configuration.tlsReports.from ?? "postmaster@" + configuration.hostname
        (configuration.tlsReports.from, configuration.tlsReports.contact) = (from, configuration.tlsReports.contact ?? from)
    }
}

/// `[[listener]]`: where Veil takes mail in, and from whom.
extension Configuration.Listener: ConfigSection {
    static let keys: [ConfigKey<Configuration.Listener>] = [
        .string("name", \.name, reload: .needsRestart, doc: "Used in logs; required, unique."),
        .address("address", \.address, reload: .needsRestart, doc: "\"IPv4:port\" or \"[IPv6]:port\"."),
        .choice("tls", \.tls, doc: "none | starttls | implicit (RFC 8314)."),
        .choice("auth", \.auth, doc: "required | optional | off: whether MAIL needs AUTH outside relay_networks."),
        .boolean("auth_without_tls", \.authWithoutTLS, doc: "Consent to AUTH in clear text on a tls = \"none\" listener."),
        .networks("relay_networks", \.relayNetworks, doc: "Client networks that may relay without AUTH.",
                  refusingEverywhere: "would let anyone relay through this listener (an open relay); list the networks of your own mail servers"),
        .boolean("proxy_protocol", \.proxyProtocol, doc: "A PROXY protocol v1/v2 header comes first and names the client."),
        .networks("proxy_networks", \.proxyNetworks, doc: "The load balancers allowed to send PROXY headers.",
                  refusingEverywhere: "would let anyone send a PROXY header and claim any client address (including a relay_networks one)"),
    ]

    static func finish(_ listener: inout Configuration.Listener, _ reader: TableReader) throws(ConfigError) {
        listener.line = reader.table.line
        guard !listener.name.isEmpty else { throw reader.error("name", "every [[listener]] needs a name") }
        // RFC 4954 §4: PLAIN and LOGIN carry the password itself. Without TLS on the
        // listener, SMTPServerStateMachine offers AUTH in clear text.
        if listener.tls == .none && listener.auth != .off && !listener.authWithoutTLS {
            throw reader.error("auth", "\"\(listener.auth.rawValue)\" on listener \"\(listener.name)\" with tls = \"none\" would take "
                               + "passwords in clear text: use tls = \"starttls\" or \"implicit\", or auth = \"off\" "
                               + "(set auth_without_tls = true only on a network you control)")
        }
        if listener.proxyProtocol && reader.table["proxy_networks"] == nil {
            throw reader.error("proxy_protocol", "needs proxy_networks: the addresses of the load balancers allowed to send PROXY headers")
        }
    }
}
