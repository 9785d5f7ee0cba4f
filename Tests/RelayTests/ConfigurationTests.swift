import Connections
import Foundation
import Testing
@testable import Relay

@Suite struct ConfigurationTests {
    /// Writes `text` to a temporary file and loads it.
    func load(_ text: String) throws(ConfigError) -> Configuration {
        let path = NSTemporaryDirectory() + "veil-config-\(UUID().uuidString).toml"
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try Configuration.load(path: path)
    }

    func error(_ text: String) -> ConfigError? {
        do {
            _ = try load(text)
            return nil
        } catch {
            return error
        }
    }

    static let minimal = """
        hostname = "relay.example"
        spool_dir = "/tmp/spool"

        [[listener]]
        name = "plain"
        address = "127.0.0.1:2525"
        tls = "none"
        auth = "off"
        relay_networks = ["127.0.0.0/8", "::1/128"]
        """

    @Test func minimalConfigurationGetsDefaults() throws {
        let configuration = try load(Self.minimal)
        #expect(configuration.hostname == "relay.example")
        #expect(configuration.listeners.count == 1)
        #expect(configuration.listeners[0].port == 2525)
        #expect(configuration.listeners[0].relayNetworks.map(\.description) == ["127.0.0.0/8", "::1/128"])
        #expect(configuration.limits.maximumMessageSize == 50 << 20)
        #expect(configuration.limits.commandTimeout == 300)
        #expect(configuration.limits.bareNewline == .reject)
        #expect(configuration.auth.failureWindow == 600)
    }

    @Test func limitsAndMultiLineArrays() throws {
        let configuration = try load(Self.minimal.replacingOccurrences(of: "relay_networks = [\"127.0.0.0/8\", \"::1/128\"]", with: """
            relay_networks = [
              "10.0.0.0/8",
              "192.168.0.0/16",
            ]
            """) + """

            [limits]
            max_message_size = "10MB"
            max_header_size = 1000
            data_timeout = "2h"
            bare_newline = "normalize"
            """)
        #expect(configuration.listeners[0].relayNetworks.count == 2)
        #expect(configuration.limits.maximumMessageSize == 10 << 20)
        #expect(configuration.limits.maximumHeaderSize == 1000)
        #expect(configuration.limits.dataTimeout == 7200)
        #expect(configuration.limits.bareNewline == .normalize)
    }

    @Test func unknownKeysNameTheirLine() {
        let problem = error("# comment\ncolour = \"blue\"\n" + Self.minimal)
        #expect(problem?.line == 2)
        #expect(problem?.key == "colour")
        #expect(problem?.description.hasSuffix(":2: colour: unknown key") == true)
        let inListener = error(Self.minimal + "\ncolour = \"blue\"\n")
        #expect(inListener?.line == 10)
        #expect(inListener?.key == "listener.colour")
        let nested = error(Self.minimal + "\n[limits]\nmax_recipient = 5\n")
        #expect(nested?.line == 11)
        #expect(nested?.key == "limits.max_recipient")
    }

    @Test func badValuesNameTheirLineAndKey() {
        let badTLS = error(Self.minimal.replacingOccurrences(of: "tls = \"none\"", with: "tls = \"sometimes\""))
        #expect(badTLS?.line == 7)
        #expect(badTLS?.key == "listener.tls")
        let badNetwork = error(Self.minimal.replacingOccurrences(of: "::1/128", with: "10.0.0.0/33"))
        #expect(badNetwork?.key == "listener.relay_networks")
        let badDuration = error(Self.minimal + "\n[limits]\ncommand_timeout = \"5 minutes\"\n")
        #expect(badDuration?.line == 11)
        let syntax = error("hostname = \"unterminated\n")
        #expect(syntax?.line == 1)
        let badRoute = error(Self.minimal + "\n[[delivery.domain]]\ndomain = \"b\u{1F4A9}.example\"\nroute = \"[192.0.2.1]\"\n")
        #expect(badRoute?.line == 11)
        #expect(badRoute?.key == "delivery.domain.domain")
        #expect(badRoute?.problem.contains("disallowed") == true)
    }

    @Test func dkimEntriesNeedTheirKeysAndSignFrom() throws {
        let entry = "\n[[dkim]]\ndomain = \"B\u{FC}cher.example\"\nselector = \"s1\"\nprivate_key = \"/k.pem\"\n"
        let configuration = try load(Self.minimal + entry)
        #expect(configuration.dkim.map(\.domain) == ["xn--bcher-kva.example"])
        #expect(configuration.dkim.first?.subdomains == true)
        // At the line of its [[dkim]].
        let missingKey = error(Self.minimal + "\n[[dkim]]\ndomain = \"a.example\"\nselector = \"s1\"\n")
        #expect(missingKey?.line == 10 && missingKey?.key == "dkim.private_key"
                && missingKey?.problem == "every [[dkim]] needs a private_key")
        #expect(error(Self.minimal + entry + "headers = [\"To\"]\n")?.key == "dkim.headers")
        #expect(error(Self.minimal + entry.replacingOccurrences(of: "s1", with: "s 1"))?.key == "dkim.selector")
    }

    @Test func routeDomainsAreKeptInTheirASCIIForm() throws {
        let configuration = try load(Self.minimal + "\n[[delivery.domain]]\ndomain = \"BU\u{308}CHER.example\"\nroute = \"[192.0.2.1]\"\n")
        #expect(configuration.delivery.domains.map(\.domain) == ["xn--bcher-kva.example"])
    }

    @Test func toml10FormsAreReadAsWritten() throws {
        let configuration = try load("""
            "hostname" = 'relay.example'
            limits = { max_recipients = 0x10 }
            log.level = "debug"
            listener = [
              # an array of inline tables
              { name = "plain", address = "127.0.0.1:2525", tls = "none", auth = "off" },
            ]
            [scrub]
            remove = [ # comments inside the array
              "X-A",
            ]
            """)
        #expect(configuration.hostname == "relay.example")
        #expect(configuration.limits.maximumRecipients == 16)
        #expect(configuration.log.level == "debug")
        #expect(configuration.listeners.map(\.name) == ["plain"])
        #expect(configuration.listeners[0].line == 6)
        #expect(configuration.scrub.remove == ["X-A"])
    }

    @Test func toml10ErrorsNameTheKey() {
        let twice = error(Self.minimal + "\ntls = \"none\"\n")
        #expect(twice?.description.hasSuffix(":10: listener.tls: defined twice (first on line 7)") == true)
        let item = error(Self.minimal.replacingOccurrences(of: "relay_networks = [\"127.0.0.0/8\", \"::1/128\"]",
                                                          with: "relay_networks = [\n  \"10.0.0.0/8\",\n  \"bogus\",\n]"))
        #expect(item?.line == 11)
        #expect(item?.key == "listener.relay_networks")
        let float = error(Self.minimal + "\n[limits]\nmax_recipients = 2.5\n")
        #expect(float?.description.hasSuffix(":11: limits.max_recipients: must be an integer, not a float") == true)
        let quoted = error(Self.minimal + "\n[limits]\n\"odd key\" = 1\n")
        #expect(quoted?.key == "limits.\"odd key\"")
        let date = error("when = 2026-11-30\n" + Self.minimal)
        #expect(date?.line == 1 && date?.key == "when")
    }

    /// `[tls_report]`: off unless an organization is named; addresses as MAIL FROM takes them.
    @Test func tlsReportSettings() throws {
        #expect(try load(Self.minimal).tlsReports.enabled == false)
        #expect(try load(Self.minimal + "\n[tls_report]\norganization = \"\"\n").tlsReports.enabled == false)
        let on = try load(Self.minimal + "\n[tls_report]\norganization = \"Contoso\"\nfrom = \"tls@contoso.example\"\n")
        #expect(on.tlsReports.organization == "Contoso" && on.tlsReports.contact == "tls@contoso.example")
        for bad in ["Postmaster <p@contoso.example>", "p@[192.0.2.1]", "nobody", "p\u{E9}@contoso.example"] {
            let refused = error(Self.minimal + "\n[tls_report]\ncontact = \"\(bad)\"\n")
            #expect(refused?.key == "tls_report.contact" && refused?.line == 11, "\(bad)")
        }
        #expect(error(Self.minimal + "\n[tls_report]\norganization = \"a\\nb\"\n")?.key == "tls_report.organization")
    }

    @Test func tlsAndAuthListenersNeedTheirFiles() {
        let tls = error(Self.minimal.replacingOccurrences(of: "tls = \"none\"", with: "tls = \"starttls\""))
        #expect(tls?.key == "tls.certificate")
        let auth = error(Self.minimal.replacingOccurrences(of: "auth = \"off\"", with: "auth = \"optional\"\nauth_without_tls = true"))
        #expect(auth?.key == "auth.users_file")
    }

    /// Issue 13: settings that open the relay or expose passwords are errors.
    @Test func everyAddressInRelayNetworksIsRefused() {
        for everything in ["0.0.0.0/0", "::/0", "192.0.2.1/0", "::ffff:0.0.0.0/96", "::/1"] {
            let refused = error(Self.minimal.replacingOccurrences(of: "\"::1/128\"]", with: "\"::1/128\",\n  \"\(everything)\",\n]"))
            #expect(refused?.key == "listener.relay_networks", "\(everything)")
            #expect(refused?.line == 10, "\(everything)")
            #expect(refused?.problem.contains("open relay") == true, "\(everything)")
        }
        for fine in ["0.0.0.0/1", "::ffff:10.0.0.0/104", "2000::/3"] {
            #expect(error(Self.minimal.replacingOccurrences(of: "\"::1/128\"]", with: "\"\(fine)\"]")) == nil, "\(fine)")
        }
    }

    @Test func authWithoutTLSNeedsConsent() throws {
        for mode in ["required", "optional"] {
            let refused = error(Self.minimal.replacingOccurrences(of: "auth = \"off\"", with: "auth = \"\(mode)\""))
            #expect(refused?.key == "listener.auth")
            #expect(refused?.line == 8)
            #expect(refused?.problem.contains("clear text") == true)
        }
        // auth left out means "required": the error points at the [[listener]] line.
        let implicit = error(Self.minimal.replacingOccurrences(of: "auth = \"off\"\n", with: ""))
        #expect(implicit?.key == "listener.auth" && implicit?.line == 4)
        let consented = try load(Self.minimal.replacingOccurrences(of: "auth = \"off\"", with: "auth = \"optional\"\nauth_without_tls = true")
                                 + "\n[auth]\nusers_file = \"/dev/null\"\n")
        #expect(consented.listeners[0].authWithoutTLS)
        #expect(try load(Self.minimal).listeners[0].authWithoutTLS == false)
    }

    @Test func proxyProtocolNeedsExplicitProxyNetworks() throws {
        let missing = error(Self.minimal + "\nproxy_protocol = true\n")
        #expect(missing?.key == "listener.proxy_protocol" && missing?.line == 10)
        #expect(missing?.problem.contains("proxy_networks") == true)
        let everyone = error(Self.minimal + "\nproxy_protocol = true\nproxy_networks = [\"::/0\"]\n")
        #expect(everyone?.key == "listener.proxy_networks" && everyone?.line == 11)
        let given = try load(Self.minimal + "\nproxy_protocol = true\nproxy_networks = [\"192.0.2.10/32\"]\n")
        #expect(given.listeners[0].proxyNetworks.map(\.description) == ["192.0.2.10/32"])
    }

    @Test func rootIsRefusedUnlessAllowedForDevelopment() {
        #expect(RootGuard.decide(euid: 1000, environment: [:]) == .proceed)
        #expect(RootGuard.decide(euid: 1000, environment: ["VEIL_ALLOW_ROOT": "1"]) == .proceed)
        guard case .refuse(let reason) = RootGuard.decide(euid: 0, environment: [:]) else {
            Issue.record("root without VEIL_ALLOW_ROOT must be refused")
            return
        }
        #expect(reason.contains("root") && reason.contains("User=veil") && reason.contains("VEIL_ALLOW_ROOT=1"))
        for value in ["0", "", "yes", "true"] {
            guard case .refuse = RootGuard.decide(euid: 0, environment: ["VEIL_ALLOW_ROOT": value]) else {
                Issue.record("VEIL_ALLOW_ROOT=\(value) must not allow root")
                continue
            }
        }
        guard case .proceedAsRoot = RootGuard.decide(euid: 0, environment: ["VEIL_ALLOW_ROOT": "1"]) else {
            Issue.record("VEIL_ALLOW_ROOT=1 allows root")
            return
        }
    }

    @Test func cidrMatching() throws {
        let network = try #require(CIDR("10.1.0.0/16"))
        #expect(network.contains("10.1.200.3"))
        #expect(!network.contains("10.2.0.1"))
        #expect(network.contains("::ffff:10.1.0.9"))
        let v6 = try #require(CIDR("2001:db8::/32"))
        #expect(v6.contains("2001:db8:1::5"))
        #expect(!v6.contains("2001:db9::1"))
        #expect(CIDR("not-an-ip") == nil)
        #expect(CIDR("") == nil)
        #expect(CIDR("/8") == nil)
    }

    @Test func unitParsing() {
        #expect(parseDuration("30s") == 30)
        #expect(parseDuration("5d") == 432_000)
        #expect(parseDuration("5") == nil)
        #expect(parseSize("256KB") == 262_144)
        #expect(parseSize("1GB") == 1 << 30)
        #expect(parseSize("12") == 12)
        #expect(parseSize("lots") == nil)
        #expect(parseSize("99999999999999999GB") == nil)
        #expect(parseDuration("9999999999999d") == nil)
    }
}

@Suite struct TLSConfigurationTests {
    static let withTLS = ConfigurationTests.minimal + "\n[tls]\n"

    func load(_ text: String) throws(ConfigError) -> Configuration {
        try ConfigurationTests().load(text)
    }

    func error(_ text: String) -> ConfigError? {
        ConfigurationTests().error(text)
    }

    @Test func defaultsOfferTLS12OnlyWithForwardSecretAEADSuites() throws {
        let tls = try load(Self.withTLS).tls
        #expect(tls.minimumVersion == .v1_2)
        #expect(tls.maximumVersion == .v1_2)
        #expect(tls.ciphers == Configuration.TLS.defaultCiphers)
        #expect(try load(Self.withTLS + "max_version = \"1.3\"\n").tls.maximumVersion == .v1_3)
        // TLS 1.3 only: max_version follows.
        let only13 = try load(Self.withTLS + "min_version = \"1.3\"\n").tls
        #expect(only13.minimumVersion == .v1_3 && only13.maximumVersion == .v1_3)
        let effective = try load(Self.withTLS).effectiveDescription
        #expect(effective.contains("max_version = \"1.2\""))
        #expect(effective.contains("ciphers = \"\(Configuration.TLS.defaultCiphers)\""))
        #expect(effective.contains("# TLS 1.2 suites: ECDHE-ECDSA-AES128-GCM-SHA256"))
    }

    @Test func badVersionsAndCiphersNameTheirLine() {
        let below = error(Self.withTLS + "min_version = \"1.3\"\nmax_version = \"1.2\"\n")
        #expect(below?.key == "tls.max_version")
        #expect(below?.line == 12)
        let version = error(Self.withTLS + "max_version = \"1.1\"\n")
        #expect(version?.key == "tls.max_version")
        let ciphers = error(Self.withTLS + "\nciphers = \"ECDHE+AESGCM:NOPE\"\n")
        #expect(ciphers?.key == "tls.ciphers")
        #expect(ciphers?.line == 12)
        #expect(ciphers?.problem.contains("\"NOPE\"") == true)
    }
}
