import Delivery
import DKIM
import Foundation

extension Keyring {
    /// Reads the key file of every `[[dkim]]`: an unreadable file, a key that is
    /// neither RSA nor Ed25519, an RSA key under 1024 bits are errors; an RSA key
    /// under 2048 bits is a warning (`file:line: dkim.private_key: warning: ...`).
    static func load(_ configuration: Configuration) throws(ConfigError) -> (Keyring, warnings: [ConfigError]) {
        var entries: [Entry] = []
        var warnings: [ConfigError] = []
        for dkim in configuration.dkim {
            func problem(_ text: String) -> ConfigError {
                ConfigError(file: configuration.file, line: dkim.privateKeyLine ?? dkim.line, key: "dkim.private_key", problem: text)
            }
            guard let data = FileManager.default.contents(atPath: dkim.privateKey) else {
                throw problem("\(dkim.privateKey) cannot be read")
            }
            let key: SigningKey
            do {
                key = try SigningKey(pem: String(decoding: data, as: UTF8.self))
            } catch {
                throw problem("\(dkim.privateKey): \(error)")
            }
            if let bits = key.rsaBits, bits < 2048 {
                warnings.append(problem("warning: \(dkim.privateKey) is an RSA key of \(bits) bits; use 2048 or more "
                                        + "(receivers may treat weaker signatures as none, RFC 8301)"))
            }
            entries.append(Entry(domain: dkim.domain, selector: dkim.selector, key: key, subdomains: dkim.subdomains,
                                 headers: dkim.headers))
        }
        return (Keyring(entries: entries, asciiDomain: { try? IDNA.toASCII($0) }), warnings)
    }
}
