import Foundation
import Testing
@testable import Relay
import TOML

/// The key declarations of Config/Keys against the shipped config/veil.toml, the
/// printer against the loader, and the reload diff.
@Suite struct ConfigSchemaTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let shippedConfig = repository.appendingPathComponent("config/veil.toml").path

    func load(_ text: String) throws(ConfigError) -> Configuration {
        try ConfigurationTests().load(text)
    }

    /// The `table.key` paths config/veil.toml shows, as `key = ...` or commented out
    /// as `# key = ...`, under `[table]` or `[[table]]` headers (commented or not).
    func documentedKeys() throws -> Set<String> {
        let text = try String(contentsOfFile: Self.shippedConfig, encoding: .utf8)
        var table = ""
        var keys: Set<String> = []
        for rawLine in text.split(separator: "\n") {
            let line = rawLine.drop(while: { $0 == "#" || $0 == " " })
            if line.hasPrefix("["), line.hasSuffix("]") {
                table = line.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            } else if let match = line.firstMatch(of: #/^([a-z0-9_]+) = /#) {
                keys.insert(joinedPath(table, String(match.1)))
            }
        }
        return keys
    }

    @Test func everyKeyIsDocumentedInTheShippedConfig() throws {
        let declared = Configuration.keyPaths(path: "")
        let documented = try documentedKeys()
        #expect(Set(declared).count == declared.count, "a key is declared twice")
        #expect(Set(declared).subtracting(documented).sorted() == [], "not in config/veil.toml, as `key =` or `# key =`")
        #expect(documented.subtracting(declared).sorted() == [], "in config/veil.toml, but declared by no ConfigKey")
    }

    /// config/veil.toml says it shows every key with its default value: apart from
    /// what an example must fill in, its values are the declared defaults.
    @Test func theShippedConfigShowsTheDefaults() throws {
        let shipped = try load(String(contentsOfFile: Self.shippedConfig, encoding: .utf8))
        let filledIn = ["hostname", "control_socket", "tls.certificate", "tls.private_key", "auth.users_file",
                        "delivery.helo_name", "metrics.address", "tls_report.contact", "tls_report.from"]
        let changed = Configuration().changedKeys(to: shipped, restartOnly: false)
        #expect(changed.filter { !filledIn.contains($0) && !$0.hasPrefix("listener.") } == [])
    }

    @Test func everyKeyHasADocLine() {
        func check<Section: ConfigSection>(_: Section.Type) {
            for key in Section.keys {
                #expect(!key.doc.isEmpty && !key.doc.contains("\n"), "\(key.name)")
            }
        }
        check(Configuration.self)
        check(Configuration.Listener.self)
        check(Configuration.TLS.self)
        check(Configuration.Auth.self)
        check(Configuration.Limits.self)
        check(Configuration.Scrub.self)
        check(Configuration.Delivery.self)
        check(Configuration.Delivery.DomainRoute.self)
        check(Configuration.DNS.self)
        check(Configuration.Log.self)
        check(Configuration.Metrics.self)
        check(Configuration.DKIM.self)
        check(Configuration.TLSReports.self)
    }

    /// A configuration that sets every table, both arrays of tables and values
    /// other than the defaults.
    static let rich = ConfigurationTests.minimal + """

        proxy_protocol = true
        proxy_networks = ["192.0.2.10/32"]

        [[listener]]
        name = "six"
        address = "[::1]:4650"
        tls = "implicit"
        auth = "optional"

        [tls]
        certificate = "cert.pem"
        private_key = "/etc/veil/key.pem"
        min_version = "1.3"
        ciphers = "ECDHE+AESGCM"

        [auth]
        users_file = "users"
        lockout = "1h"

        [limits]
        max_message_size = "10MB"
        ipv6_prefix = 56
        bare_newline = "normalize"

        [scrub]
        mode = "denylist"
        remove = ["X-Internal-*", "X-\\"Quoted\\""]
        tnef = "remove"

        [delivery]
        mode = "smarthost"
        smarthost = "mail.example:587"
        smarthost_user = "relay"
        smarthost_password_file = "password"
        retry = ["1m", "2h"]
        allow_networks = ["10.20.0.0/16"]

        [[delivery.domain]]
        domain = "b\u{FC}cher.example"
        route = "[192.0.2.5]"

        [[delivery.domain]]
        domain = "partner.example"
        tls = "verify"

        [dns]
        servers = ["127.0.0.1@5353", "::1"]

        [log]
        level = "debug"
        format = "json"

        [metrics]
        address = "[::1]:9100"

        [[dkim]]
        domain = "contoso.example"
        selector = "rsa2026"
        private_key = "dkim/rsa.pem"
        subdomains = false

        [[dkim]]
        domain = "Contoso.example"
        selector = "ed2026"
        private_key = "/etc/veil/dkim/ed.pem"
        headers = ["From", "Subject"]

        [tls_report]
        organization = "Contoso Ltd"
        contact = "tls-reports@contoso.example"
        """

    @Test(arguments: ["rich", "shipped", "minimal"])
    func printedConfigurationReadsBackTheSame(_ which: String) throws {
        let text = switch which {
        case "rich": Self.rich
        case "shipped": try String(contentsOfFile: Self.shippedConfig, encoding: .utf8)
        default: ConfigurationTests.minimal
        }
        let original = try load(text)
        let printed = original.effectiveDescription
        let reread = try load(printed)
        #expect(original.changedKeys(to: reread, restartOnly: false) == [])
        // Line by line, the header (the file's name) apart.
        #expect(reread.effectiveDescription.split(separator: "\n").dropFirst() == printed.split(separator: "\n").dropFirst())
    }

    @Test func theReloadDiffNamesTheKeysThatNeedARestart() throws {
        let old = try load(Self.rich)
        let new = try load(Self.rich.replacingOccurrences(of: "127.0.0.1:2525", with: "127.0.0.1:2526")
            .replacingOccurrences(of: "ipv6_prefix = 56", with: "ipv6_prefix = 48\nmax_recipients = 7")
            .replacingOccurrences(of: "tnef = \"remove\"", with: "tnef = \"reject\"")
            .replacingOccurrences(of: "retry = [", with: "connect_timeout = \"1m\"\nretry = [")
            .replacingOccurrences(of: "level = \"debug\"", with: "level = \"info\""))
        #expect(old.keysNeedingRestart(for: new) == ["listener.address", "limits.ipv6_prefix", "delivery.connect_timeout", "log.level"])
        #expect(old.changedKeys(to: new, restartOnly: false) == ["listener.address", "limits.max_recipients", "limits.ipv6_prefix",
                                                                 "scrub.tnef", "delivery.connect_timeout", "log.level"])
        #expect(old.keysNeedingRestart(for: old) == [])
        // A listener more or less, or renamed: listeners are matched by name and address.
        let renamed = try load(Self.rich.replacingOccurrences(of: "name = \"six\"", with: "name = \"seven\""))
        #expect(old.keysNeedingRestart(for: renamed) == ["listener.name"])
        let one = try load(ConfigurationTests.minimal)
        #expect(one.keysNeedingRestart(for: old).prefix(2) == ["listener.name", "listener.address"])
    }

    @Test func crossTableDefaultsAreFilledIn() throws {
        let configuration = try load(Self.rich)
        #expect(configuration.tls.maximumVersion == .v1_3)
        #expect(configuration.delivery.heloName == "relay.example")
        #expect(configuration.tlsReports.from == "postmaster@relay.example")
        #expect(configuration.tlsReports.contact == "tls-reports@contoso.example")
        #expect(try load(ConfigurationTests.minimal).tlsReports.contact == "postmaster@relay.example")
        #expect(configuration.delivery.domains.map(\.tls) == [.opportunistic, .verify])
        #expect(configuration.delivery.domains.first?.domain == "xn--bcher-kva.example")
        #expect(configuration.controlSocket == "/tmp/spool/veil.sock" || ProcessInfo.processInfo.environment["RUNTIME_DIRECTORY"] != nil)
        let lines = Self.rich.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(configuration.tls.certificateLine == lines.firstIndex { $0.hasPrefix("certificate =") }.map { $0 + 1 })
        #expect(configuration.metrics.addressLine == lines.firstIndex { $0.hasPrefix("address = \"[::1]:9100") }.map { $0 + 1 })
    }
}

/// A key that may hold no value keeps a default that is not nil when the file
/// leaves it out, and an empty string sets it to none.
@Suite struct OptionalConfigKeyTests {
    struct Section: Sendable {
        var name: String? = "the default"
    }

    static let key = ConfigKey<Section>.string("name", \.name, doc: "A test key.")

    func read(_ text: String) throws -> Section {
        var reader = TableReader(file: "test.toml", table: try TOMLParser.parse(text), prefix: "", baseDirectory: "/")
        var section = Section()
        try Self.key.read(&reader, &section)
        return section
    }

    @Test func leftOutKeepsTheDefaultEmptyIsNoneAValueIsTheValue() throws {
        #expect(try read("").name == "the default")
        #expect(try read("name = \"\"").name == nil)
        #expect(try read("name = \"given\"").name == "given")
    }
}
