import Delivery
import Foundation
import MessageRewriter
import SMTPCore
import TOML

extension Configuration {
    /// Reads and validates a configuration file. Every problem is reported as
    /// `file:line: key: problem`; unknown keys are errors.
    public static func load(path: String) throws(ConfigError) -> Configuration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, line: nil, key: "file", problem: "cannot be read")
        }
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(Array(data))
        } catch {
            throw ConfigError(file: path, line: error.line, key: error.key ?? "syntax", problem: error.message)
        }
        let absolutePath = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let directory = (absolutePath as NSString).deletingLastPathComponent
        var reader = TableReader(file: path, table: root, prefix: "", baseDirectory: directory)
        return try reader.configuration()
    }
}

/// Reads typed values out of one TOML table and remembers which keys were used, so
/// that the rest can be reported as unknown.
private struct TableReader {
    let file: String
    let table: TOMLTable
    let prefix: String
    let baseDirectory: String
    var used: Set<String> = []

    init(file: String, table: TOMLTable, prefix: String, baseDirectory: String) {
        self.file = file
        self.table = table
        self.prefix = prefix
        self.baseDirectory = baseDirectory
    }

    /// A problem with `key`, at the line of its value (or of the table, when the
    /// key is missing). Keys are printed as the file would write them.
    func error(_ key: String, _ problem: String, line: Int? = nil) -> ConfigError {
        ConfigError(file: file, line: line ?? table[key]?.line ?? table.line, key: prefix + TOMLKey.display(key), problem: problem)
    }

    mutating func raw(_ key: String) -> TOMLValue? {
        used.insert(key)
        return table[key]
    }

    mutating func string(_ key: String) throws(ConfigError) -> String? {
        guard let entry = raw(key) else { return nil }
        guard case .string(let value) = entry.kind else { throw error(key, "must be a string, not \(entry.typeName)") }
        return value
    }

    mutating func string(_ key: String, default value: String) throws(ConfigError) -> String {
        try string(key) ?? value
    }

    /// A file or directory path; relative ones are relative to the config file's
    /// folder. An empty string means "not set".
    mutating func path(_ key: String) throws(ConfigError) -> String? {
        guard let value = try string(key), !value.isEmpty else { return nil }
        return ((value.hasPrefix("/") ? value : baseDirectory + "/" + value) as NSString).standardizingPath
    }

    mutating func integer(_ key: String, default value: Int, range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let entry = raw(key) else { return value }
        guard case .integer(let number) = entry.kind else { throw error(key, "must be an integer, not \(entry.typeName)") }
        guard range.contains(number) else { throw error(key, "must be between \(range.lowerBound) and \(range.upperBound)") }
        return number
    }

    mutating func boolean(_ key: String, default value: Bool) throws(ConfigError) -> Bool {
        guard let entry = raw(key) else { return value }
        guard case .boolean(let flag) = entry.kind else { throw error(key, "must be true or false, not \(entry.typeName)") }
        return flag
    }

    mutating func choice<Choice: RawRepresentable & CaseIterable>(_ key: String, default value: Choice) throws(ConfigError) -> Choice
    where Choice.RawValue == String {
        guard let text = try string(key) else { return value }
        guard let choice = Choice(rawValue: text) else {
            throw error(key, "must be one of \(Choice.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), not \"\(text)\"")
        }
        return choice
    }

    mutating func duration(_ key: String, default value: Int) throws(ConfigError) -> Int {
        guard let text = try string(key) else { return value }
        guard let seconds = parseDuration(text) else { throw error(key, "\"\(text)\" is not a duration (e.g. \"30s\", \"5m\", \"2h\", \"5d\")") }
        return seconds
    }

    mutating func size(_ key: String, default value: Int) throws(ConfigError) -> Int {
        guard let entry = raw(key) else { return value }
        switch entry.kind {
        case .integer(let number) where number >= 0:
            return number
        case .string(let text):
            guard let bytes = parseSize(text) else { throw error(key, "\"\(text)\" is not a size (e.g. \"256KB\", \"50MB\")") }
            return bytes
        default:
            throw error(key, "must be a size such as \"50MB\"")
        }
    }

    mutating func stringArray(_ key: String) throws(ConfigError) -> [String] {
        try stringItems(key).map(\.text)
    }

    /// The strings of an array with their lines, for errors about one of them.
    mutating func stringItems(_ key: String) throws(ConfigError) -> [(text: String, line: Int)] {
        guard let entry = raw(key) else { return [] }
        guard case .array(let items) = entry.kind else { throw error(key, "must be an array of strings, not \(entry.typeName)") }
        var strings: [(text: String, line: Int)] = []
        for item in items {
            guard case .string(let text) = item.kind else { throw error(key, "must be an array of strings, not one with \(item.typeName)", line: item.line) }
            strings.append((text, item.line))
        }
        return strings
    }

    mutating func subtable(_ key: String) throws(ConfigError) -> TableReader {
        let childPrefix = prefix + TOMLKey.display(key) + "."
        guard let entry = raw(key) else {
            return TableReader(file: file, table: TOMLTable(line: table.line), prefix: childPrefix, baseDirectory: baseDirectory)
        }
        guard case .table(let child) = entry.kind else { throw error(key, "must be a table ([\(key)]), not \(entry.typeName)") }
        return TableReader(file: file, table: child, prefix: childPrefix, baseDirectory: baseDirectory)
    }

    /// `[[key]]` blocks, or an array of inline tables: the same to TOML 1.0.
    mutating func tables(_ key: String) throws(ConfigError) -> [TableReader] {
        guard let entry = raw(key) else { return [] }
        guard case .array(let items) = entry.kind else { throw error(key, "must be an array of tables ([[\(key)]]), not \(entry.typeName)") }
        var readers: [TableReader] = []
        for item in items {
            guard case .table(let child) = item.kind else {
                throw error(key, "must be an array of tables ([[\(key)]]), not one with \(item.typeName)", line: item.line)
            }
            readers.append(TableReader(file: file, table: child, prefix: prefix + TOMLKey.display(key) + ".", baseDirectory: baseDirectory))
        }
        return readers
    }

    func rejectUnknownKeys() throws(ConfigError) {
        for (key, entry) in table.entries where !used.contains(key) {
            throw error(key, "unknown key", line: entry.line)
        }
    }

    // MARK: The file's structure

    mutating func configuration() throws(ConfigError) -> Configuration {
        let hostname = try string("hostname", default: "localhost")
        guard !hostname.isEmpty, !hostname.contains(" ") else { throw error("hostname", "must be a host name") }
        let spool = try path("spool_dir") ?? "/var/lib/veil"
        // Under systemd RuntimeDirectory= (the daemon's environment); elsewhere the spool.
        let runtimeDirectory = ProcessInfo.processInfo.environment["RUNTIME_DIRECTORY"]
        let controlSocket = try path("control_socket") ?? (runtimeDirectory ?? spool) + "/veil.sock"
        var listeners: [Configuration.Listener] = []
        for var reader in try tables("listener") {
            listeners.append(try reader.listener())
            try reader.rejectUnknownKeys()
        }
        guard !listeners.isEmpty else { throw error("listener", "at least one [[listener]] is needed") }
        for (index, listener) in listeners.enumerated() where listeners[..<index].contains(where: { $0.name == listener.name }) {
            throw ConfigError(file: file, line: listener.line, key: "listener.name", problem: "\"\(listener.name)\" is used twice")
        }

        var tlsReader = try subtable("tls")
        let minimumVersion = try tlsReader.choice("min_version", default: Configuration.TLS.Version.v1_2)
        // TLS 1.3 only when asked for (max_version, or min_version = "1.3"): docs/exchange.md.
        let maximumVersion = try tlsReader.choice("max_version", default: minimumVersion)
        guard maximumVersion >= minimumVersion else {
            throw tlsReader.error("max_version", "\"\(maximumVersion.rawValue)\" is below min_version \"\(minimumVersion.rawValue)\"")
        }
        let tls = Configuration.TLS(
            certificate: try tlsReader.path("certificate"), privateKey: try tlsReader.path("private_key"),
            minimumVersion: minimumVersion, maximumVersion: maximumVersion,
            ciphers: try tlsReader.string("ciphers", default: Configuration.TLS.defaultCiphers),
            certificateLine: tlsReader.table["certificate"]?.line, privateKeyLine: tlsReader.table["private_key"]?.line,
            ciphersLine: tlsReader.table["ciphers"]?.line)
        do {
            _ = try TLSCipherString.enabledSuites(tls.ciphers)
        } catch {
            throw tlsReader.error("ciphers", error.message)
        }
        try tlsReader.rejectUnknownKeys()
        if let listener = listeners.first(where: { $0.tls != .none }) {
            if tls.certificate == nil { throw tlsReader.error("certificate", "needed by listener \"\(listener.name)\" (tls = \"\(listener.tls.rawValue)\")") }
            if tls.privateKey == nil { throw tlsReader.error("private_key", "needed by listener \"\(listener.name)\" (tls = \"\(listener.tls.rawValue)\")") }
        }

        var authReader = try subtable("auth")
        let auth = Configuration.Auth(
            usersFile: try authReader.path("users_file"), usersFileLine: authReader.table["users_file"]?.line,
            maximumFailures: try authReader.integer("max_failures", default: 5, range: 1...1_000_000),
            failureWindow: try authReader.duration("failure_window", default: 600),
            lockout: try authReader.duration("lockout", default: 900),
            maximumAttemptsPerSecond: try authReader.integer("max_attempts_per_second", default: 50, range: 1...1_000_000))
        try authReader.rejectUnknownKeys()
        if let listener = listeners.first(where: { $0.auth != .off }), auth.usersFile == nil {
            throw authReader.error("users_file", "needed by listener \"\(listener.name)\" (auth = \"\(listener.auth.rawValue)\")")
        }

        var limitsReader = try subtable("limits")
        var limits = Configuration.Limits()
        limits.maximumMessageSize = try limitsReader.size("max_message_size", default: limits.maximumMessageSize)
        limits.maximumRecipients = try limitsReader.integer("max_recipients", default: limits.maximumRecipients, range: 1...100_000)
        limits.maximumHeaderSize = try limitsReader.size("max_header_size", default: limits.maximumHeaderSize)
        limits.maximumConnections = try limitsReader.integer("max_connections", default: limits.maximumConnections, range: 1...1_000_000)
        limits.maximumConnectionsPerIP = try limitsReader.integer("max_connections_per_ip", default: limits.maximumConnectionsPerIP, range: 1...1_000_000)
        limits.ipv6PrefixLength = try limitsReader.integer("ipv6_prefix", default: limits.ipv6PrefixLength, range: ClientKey.ipv6PrefixRange)
        limits.commandTimeout = try limitsReader.duration("command_timeout", default: limits.commandTimeout)
        limits.dataTimeout = try limitsReader.duration("data_timeout", default: limits.dataTimeout)
        limits.bareNewline = try limitsReader.choice("bare_newline", default: limits.bareNewline)
        limits.greetingDelay = try limitsReader.duration("greeting_delay", default: limits.greetingDelay)
        limits.shutdownGrace = try limitsReader.duration("shutdown_grace", default: limits.shutdownGrace)
        limits.maximumErrors = try limitsReader.integer("max_errors", default: limits.maximumErrors, range: 1...10_000)
        limits.minimumFreeSpace = try limitsReader.size("min_free_space", default: limits.minimumFreeSpace)
        try limitsReader.rejectUnknownKeys()

        var scrubReader = try subtable("scrub")
        var scrub = Configuration.Scrub()
        scrub.mode = try scrubReader.choice("mode", default: scrub.mode)
        scrub.profile = try scrubReader.choice("profile", default: scrub.profile)
        scrub.remove = try scrubReader.stringArray("remove")
        scrub.keep = try scrubReader.stringArray("keep")
        for key in ["remove", "keep"] {
            if let bad = try scrubReader.stringItems(key).first(where: { !ScrubRules.isValidPattern($0.text) }) {
                throw scrubReader.error(key, "\"\(bad.text)\" is not a header field name (a trailing * matches a prefix)", line: bad.line)
            }
        }
        if let field = ScrubRules.removedStructuralField(scrub.remove) {
            throw scrubReader.error("remove", "would remove \(field), without which mail programs cannot read MIME messages")
        }
        scrub.messageID = try scrubReader.choice("message_id", default: scrub.messageID)
        scrub.received = try scrubReader.choice("received", default: scrub.received)
        scrub.maximumHops = try scrubReader.integer("max_hops", default: scrub.maximumHops, range: 1...1000)
        scrub.embeddedMessages = try scrubReader.boolean("embedded_messages", default: scrub.embeddedMessages)
        scrub.tnef = try scrubReader.choice("tnef", default: scrub.tnef)
        scrub.secretFile = try scrubReader.path("secret_file")
        scrub.secretFileLine = scrubReader.table["secret_file"]?.line
        try scrubReader.rejectUnknownKeys()

        var deliveryReader = try subtable("delivery")
        let delivery = try deliveryReader.delivery()
        try deliveryReader.rejectUnknownKeys()

        var dnsReader = try subtable("dns")
        var dns = Configuration.DNS()
        dns.servers = try dnsReader.stringArray("servers")
        dns.serversLine = dnsReader.table["servers"]?.line
        for (server, line) in try dnsReader.stringItems("servers") {
            let parts = server.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
            guard CIDR.bytes(of: String(parts[0])) != nil, parts.count == 1 || Int(parts[1]).map({ (1...65535).contains($0) }) == true else {
                throw dnsReader.error("servers", "\"\(server)\" is not an IP address, optionally with @port", line: line)
            }
        }
        try dnsReader.rejectUnknownKeys()
        var metricsReader = try subtable("metrics")
        var metrics = Configuration.Metrics()
        if let address = try metricsReader.string("address") {
            guard let (host, port) = splitHostPort(address) else {
                throw metricsReader.error("address", "\"\(address)\" is not IPv4:port or [IPv6]:port")
            }
            (metrics.host, metrics.port) = (host, port)
            metrics.addressLine = metricsReader.table["address"]?.line
        }
        try metricsReader.rejectUnknownKeys()

        var logReader = try subtable("log")
        let log = Configuration.Log(level: try logReader.string("level", default: "info"),
                                    format: try logReader.choice("format", default: .text))
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(log.level) else {
            throw logReader.error("level", "must be one of trace, debug, info, notice, warning, error, critical")
        }
        try logReader.rejectUnknownKeys()
        try rejectUnknownKeys()
        return Configuration(file: file, hostname: hostname, spoolDirectory: spool,
                             spoolDirectoryLine: table["spool_dir"]?.line, controlSocket: controlSocket,
                             controlSocketLine: table["control_socket"]?.line, listeners: listeners,
                             tls: tls, auth: auth, limits: limits, scrub: scrub, delivery: delivery, dns: dns, log: log,
                             metrics: metrics)
    }

    mutating func listener() throws(ConfigError) -> Configuration.Listener {
        guard let name = try string("name"), !name.isEmpty else { throw error("name", "every [[listener]] needs a name") }
        let address = try string("address", default: "0.0.0.0:25")
        guard let (host, port) = splitHostPort(address) else {
            throw error("address", "\"\(address)\" is not IPv4:port or [IPv6]:port")
        }
        let networks = try cidrArray("relay_networks")
        try rejectEverywhere("relay_networks", "would let anyone relay through this listener (an open relay); list the networks of your own mail servers")
        let tls = try choice("tls", default: TLSMode.starttls)
        let auth = try choice("auth", default: AuthMode.required)
        let authWithoutTLS = try boolean("auth_without_tls", default: false)
        // RFC 4954 §4: PLAIN and LOGIN carry the password itself. Without TLS on the
        // listener, SMTPServerStateMachine offers AUTH in clear text.
        if tls == .none && auth != .off && !authWithoutTLS {
            throw error("auth", "\"\(auth.rawValue)\" on listener \"\(name)\" with tls = \"none\" would take passwords in clear text: "
                        + "use tls = \"starttls\" or \"implicit\", or auth = \"off\" (set auth_without_tls = true only on a network you control)")
        }
        let proxyProtocol = try boolean("proxy_protocol", default: false)
        let proxyNetworks = try cidrArray("proxy_networks")
        try rejectEverywhere("proxy_networks", "would let anyone send a PROXY header and claim any client address (including a relay_networks one)")
        if proxyProtocol && table["proxy_networks"] == nil {
            throw error("proxy_protocol", "needs proxy_networks: the addresses of the load balancers allowed to send PROXY headers")
        }
        return Configuration.Listener(
            name: name, host: host, port: port, tls: tls, auth: auth, authWithoutTLS: authWithoutTLS, relayNetworks: networks,
            proxyProtocol: proxyProtocol, proxyNetworks: proxyNetworks, line: table.line)
    }

    /// A network list must not hold a network that takes in every IPv4 address
    /// (`0.0.0.0/0`, or `::ffff:0:0/96` and wider, which match every IPv4 client of a
    /// dual-stack listener) or every IPv6 address (`::/0`).
    func rejectEverywhere(_ key: String, _ consequence: String) throws(ConfigError) {
        guard case .array(let items)? = table[key]?.kind else { return }
        for item in items {
            guard case .string(let text) = item.kind, let network = CIDR(text), network.coversAFamily else { continue }
            throw error(key, "\"\(text)\" takes in every IPv4 or every IPv6 address: it \(consequence)", line: item.line)
        }
    }

    mutating func delivery() throws(ConfigError) -> Configuration.Delivery {
        var delivery = Configuration.Delivery()
        delivery.mode = try choice("mode", default: delivery.mode)
        delivery.smarthost = try hop("smarthost")
        delivery.smarthostUser = try string("smarthost_user").flatMap { $0.isEmpty ? nil : $0 }
        delivery.smarthostPasswordFile = try path("smarthost_password_file")
        delivery.smarthostPasswordFileLine = table["smarthost_password_file"]?.line
        delivery.tls = try tlsPolicy("tls") ?? delivery.tls
        delivery.caFile = try path("tls_ca_file")
        delivery.caFileLine = table["tls_ca_file"]?.line
        delivery.concurrency = try integer("concurrency", default: delivery.concurrency, range: 1...10_000)
        delivery.concurrencyPerDomain = try integer("concurrency_per_domain", default: delivery.concurrencyPerDomain, range: 1...10_000)
        delivery.messagesPerConnection = try integer("messages_per_connection", default: delivery.messagesPerConnection, range: 1...100_000)
        if table["retry"] != nil {
            var schedule: [Int] = []
            for (text, line) in try stringItems("retry") {
                guard let seconds = parseDuration(text), seconds > 0 else { throw error("retry", "\"\(text)\" is not a duration such as \"5m\"", line: line) }
                schedule.append(seconds)
            }
            guard !schedule.isEmpty else { throw error("retry", "needs at least one duration") }
            delivery.retry = schedule
        }
        delivery.maximumLifetime = try duration("max_lifetime", default: delivery.maximumLifetime)
        delivery.heloName = try string("helo_name").flatMap { $0.isEmpty ? nil : $0 }
        delivery.connectTimeout = try duration("connect_timeout", default: delivery.connectTimeout)
        delivery.commandTimeout = try duration("command_timeout", default: delivery.commandTimeout)
        delivery.dataTimeout = try duration("data_timeout", default: delivery.dataTimeout)
        delivery.allowNetworks = try cidrArray("allow_networks")
        for var reader in try tables("domain") {
            guard let written = try reader.string("domain"), !written.isEmpty else {
                throw reader.error("domain", "every [[delivery.domain]] needs a domain")
            }
            // Kept in its ASCII form, as recipient domains are compared (Router).
            let domain: String
            do {
                domain = try IDNA.toASCII(written)
            } catch {
                throw reader.error("domain", "\"\(written)\" is not a valid domain name: \(error.reason)")
            }
            delivery.domains.append(.init(domain: domain, route: try reader.hop("route"), tls: try reader.tlsPolicy("tls")))
            try reader.rejectUnknownKeys()
        }
        if delivery.mode == .smarthost && delivery.smarthost == nil {
            throw error("smarthost", "needed with mode = \"smarthost\"")
        }
        if (delivery.smarthostUser == nil) != (delivery.smarthostPasswordFile == nil) {
            throw error(delivery.smarthostUser == nil ? "smarthost_user" : "smarthost_password_file",
                        "smarthost_user and smarthost_password_file go together")
        }
        return delivery
    }

    /// `tls` of [delivery] and [[delivery.domain]]; `dane` is not in this version
    /// and is refused rather than silently weakened.
    mutating func tlsPolicy(_ key: String) throws(ConfigError) -> Configuration.Delivery.TLSPolicy? {
        guard let text = try string(key) else { return nil }
        if text == "dane" {
            throw error(key, "\"dane\" is not supported by this version of Veil yet (use \"verify\")")
        }
        guard let policy = Configuration.Delivery.TLSPolicy(rawValue: text) else {
            throw error(key, "must be one of \"none\", \"opportunistic\", \"required\", \"verify\", not \"\(text)\"")
        }
        return policy
    }

    /// `[host]:port`, `host:port` or `[host]` (port 25).
    mutating func hop(_ key: String) throws(ConfigError) -> Configuration.Delivery.Hop? {
        guard let text = try string(key), !text.isEmpty else { return nil }
        var host = text
        var port = 25
        if let colon = text.lastIndex(of: ":"), !text.hasSuffix("]"), let number = Int(text[text.index(after: colon)...]) {
            host = String(text[..<colon])
            port = number
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(" "), (1...65535).contains(port) else {
            throw error(key, "\"\(text)\" is not [host]:port")
        }
        return .init(host: host, port: port)
    }

    mutating func cidrArray(_ key: String) throws(ConfigError) -> [CIDR] {
        var networks: [CIDR] = []
        for (text, line) in try stringItems(key) {
            guard let network = CIDR(text) else { throw error(key, "\"\(text)\" is not a network such as 10.0.0.0/8", line: line) }
            networks.append(network)
        }
        return networks
    }

    private func splitHostPort(_ address: String) -> (String, Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard CIDR.bytes(of: host) != nil else { return nil }
        return (host, port)
    }
}
