import Delivery
import DKIM

/// `veil dkim check`: for each `[[dkim]]`, looks up its key record at
/// `selector._domainkey.domain` through Veil's resolver (`[dns] servers`) and says
/// whether receivers will find the key that signs (RFC 6376 §3.6.2).
public enum DKIMRecordCheck {
    /// One line per `[[dkim]]` (`contoso.example/veil2026: ok`, or what is wrong),
    /// and whether every one is ok.
    public static func run(configurationPath: String) throws(ConfigError) -> (lines: [String], ok: Bool) {
        let configuration = try Configuration.load(path: configurationPath)
        let (keyring, _) = try Keyring.load(configuration)
        let resolver = try configuration.dnsResolver(trustAnchor: nil)
        var lines: [String] = []
        var ok = true
        for entry in keyring.entries {
            let verdict = check(entry, answer: resolver.query(recordName(entry), .txt))
            if verdict != "ok" { ok = false }
            lines.append("\(entry.domain)/\(entry.selector): \(verdict)")
        }
        if lines.isEmpty { lines.append("no [[dkim]] keys are configured") }
        return (lines, ok)
    }

    /// DNS text as it may be printed on a terminal: control characters and
    /// non-ASCII bytes escaped.
    static func printable(_ text: String) -> String {
        text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value != 0x7F ? String($0) : $0.escaped(asASCII: true) }.joined()
    }

    static func recordName(_ entry: Keyring.Entry) -> String {
        "\(entry.selector)._domainkey.\(entry.domain)"
    }

    /// "ok", or what a receiver would find wrong.
    static func check(_ entry: Keyring.Entry, answer: DNSResolver.Answer) -> String {
        let (key, name) = (entry.key, recordName(entry))
        switch answer {
        case .nameError, .noData:
            return "no record at \(name); publish: \(key.zoneFileLine(domain: entry.domain, selector: entry.selector))"
        case .temporaryFailure(let reason):
            return "lookup of \(name) failed: \(reason)"
        case .records(let records):
            let texts = records.compactMap(DNSResolver.joinedText)
            let matches = texts.map(key.match(record:))
            if matches.contains(.matches) {
                return records.count == 1 ? "ok" : "ok, but \(name) has \(records.count) TXT records; receivers may pick another"
            }
            if matches.contains(.otherKey) { return "the published key at \(name) does not match private_key" }
            if matches.contains(.revoked) { return "the record at \(name) revokes the key (empty p=)" }
            if case .unusable(let reason)? = matches.first {
                return "the record at \(name) is not a DKIM key record: \(printable(reason))"
            }
            return "the record at \(name) cannot be read"
        }
    }
}
