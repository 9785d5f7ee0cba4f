import Testing
@testable import Relay

/// `[delivery] tls = "dane"` and `"dane-only"` (RFC 7672) and the DNSSEC trust
/// anchor they need (`[dns] trust_anchor_file`).
@Suite struct DANEConfigurationTests {
    let configuration = ConfigurationTests()

    @Test func daneIsForMXHostsOnly() throws {
        let route = "\n[[delivery.domain]]\ndomain = \"partner.example\"\nroute = \"[192.0.2.1]\"\n"
        let refused = configuration.error(ConfigurationTests.minimal + route + "tls = \"dane-only\"\n")
        #expect(refused?.key == "delivery.domain.tls" && refused?.problem.contains("needs the MX lookup") == true)
        // Inherited, it means what it can without an MX lookup.
        let inherited = try configuration.load(ConfigurationTests.minimal + "\n[delivery]\ntls = \"dane-only\"\n" + route + "\n[dns]\ntrust_anchor_file = \"\"\n")
        #expect(inherited.delivery.domains.map(\.tls) == [.required])
        #expect(try configuration.load(ConfigurationTests.minimal).delivery.tls == .dane)
    }

    @Test func daneOnlyNeedsATrustAnchor() throws {
        let withoutAnchor = try configuration.load(ConfigurationTests.minimal + "\n[delivery]\ntls = \"dane-only\"\n\n[dns]\ntrust_anchor_file = \"\"\n")
        #expect(throws: ConfigError.self) { try withoutAnchor.trustAnchor() }
        let missing = try configuration.load(ConfigurationTests.minimal + "\n[dns]\ntrust_anchor_file = \"/nonexistent/root.key\"\n")
        #expect { try missing.trustAnchor() } throws: { ($0 as? ConfigError)?.key == "dns.trust_anchor_file" }
        // The default, not installed: a warning, and no validation.
        var fallback = try configuration.load(ConfigurationTests.minimal)
        fallback.dns.trustAnchorFile = "/nonexistent/root.key"
        let (path, warnings) = try fallback.trustAnchor()
        #expect(path == nil && warnings.first?.problem.contains("dns-root-data") == true)
    }
}
