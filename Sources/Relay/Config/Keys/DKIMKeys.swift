import Delivery
import DKIM

/// `[[dkim]]`: a key that signs mail From: a domain (docs/dkim.md). The key file
/// itself is read by ``Settings`` (check-config, start, reload).
extension Configuration.DKIM: ConfigSection {
    static let keys: [ConfigKey<Configuration.DKIM>] = [
        .string("domain", \.domain, doc: "Signs mail whose From: domain is this (d=); required."),
        .string("selector", \.selector, doc: "The selector (s=): the key's TXT record is at selector._domainkey.domain; required.",
                check: { Keyring.isValidSelector($0) ? nil : "\"\($0)\" is not a selector (letters, digits, hyphens, dots)" }),
        .path("private_key", \.privateKey, doc: "RSA (1024 to 4096 bits; 2048 recommended) or Ed25519 key, PEM.")
            .recordingLine(in: \.privateKeyLine),
        .boolean("subdomains", \.subdomains, doc: "Also sign mail From: a subdomain of domain (d= stays domain)."),
        .strings("headers", \.headers, doc: "Fields signed, each once more than it occurs (h=); From is required.",
                 check: { Keyring.isValidFieldName($0) ? nil : "\"\($0)\" is not a header field name" }),
    ]

    static func finish(_ dkim: inout Configuration.DKIM, _ reader: TableReader) throws(ConfigError) {
        dkim.line = reader.table.line
        guard !dkim.domain.isEmpty else { throw reader.error("domain", "every [[dkim]] needs a domain") }
        guard !dkim.selector.isEmpty else { throw reader.error("selector", "every [[dkim]] needs a selector") }
        guard !dkim.privateKey.isEmpty else { throw reader.error("private_key", "every [[dkim]] needs a private_key") }
        do {
            dkim.domain = try IDNA.toASCII(dkim.domain).lowercased()
        } catch {
            throw reader.error("domain", "\"\(dkim.domain)\" is not a valid domain name: \(error.reason)")
        }
        // RFC 6376 §5.4: the From field MUST be signed.
        guard dkim.headers.contains(where: { $0.lowercased() == "from" }) else {
            throw reader.error("headers", "must include From (RFC 6376 section 5.4)")
        }
    }
}
