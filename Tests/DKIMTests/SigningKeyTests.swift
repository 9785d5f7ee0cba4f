import Crypto
import CryptoExtras
import Foundation
import Testing
@testable import DKIM

/// Key files as administrators make them (openssl, `veil dkim keygen`), and the DNS
/// records that go with them.
@Suite struct SigningKeyTests {
    @Test func generatedKeysReadBack() throws {
        for bits in [2048, nil] as [Int?] {
            let key = try SigningKey.generate(rsaBits: bits)
            let again = try SigningKey(pem: key.pem)
            #expect(again.publicKeyBase64 == key.publicKeyBase64)
            #expect(again.algorithm == key.algorithm)
        }
    }

    @Test func recordsNameTheKeyType() throws {
        let ed = try SigningKey.generate(rsaBits: nil)
        #expect(ed.dnsRecord.hasPrefix("v=DKIM1; k=ed25519; p="))
        #expect(Data(base64Encoded: ed.publicKeyBase64)?.count == 32)
        let rsa = try SigningKey.generate(rsaBits: 2048)
        #expect(rsa.dnsRecord.hasPrefix("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"))
        #expect(rsa.rsaBits == 2048)
    }

    /// `veil dkim check`'s verdicts on what DNS publishes.
    @Test func publishedRecordsAgainstTheKey() throws {
        let rsa = try SigningKey.generate(rsaBits: 2048)
        let other = try SigningKey.generate(rsaBits: 2048)
        let ed = try SigningKey.generate(rsaBits: nil)
        #expect(rsa.match(record: rsa.dnsRecord) == .matches)
        // Folded base64, no v= and no k= (rsa is the default) are fine.
        let p = rsa.publicKeyBase64
        #expect(rsa.match(record: "p=\(p.prefix(100)) \(p.dropFirst(100))") == .matches)
        #expect(rsa.match(record: other.dnsRecord) == .otherKey)
        #expect(rsa.match(record: ed.dnsRecord) == .otherKey)
        #expect(ed.match(record: ed.dnsRecord) == .matches)
        #expect(rsa.match(record: "v=DKIM1; k=rsa; p=") == .revoked)
        #expect(rsa.match(record: "v=spf1 -all") == .unusable("v=spf1 -all is not DKIM1"))
        #expect(rsa.match(record: "k=rsa; p=!!!") == .unusable("p= is not base64"))
        #expect(rsa.match(record: rsa.dnsRecord + "; h=sha1") == .unusable("h=sha1 does not allow sha256"))
        #expect(rsa.match(record: "v=DKIM1; h=sha1:sha256; s=email; p=\(p)") == .matches)
        #expect(rsa.match(record: rsa.dnsRecord + "; s=tlsrpt") == .unusable("s=tlsrpt does not allow email"))
    }

    /// PKCS#1 (`openssl genrsa` of old, `BEGIN RSA PRIVATE KEY`) reads like PKCS#8.
    @Test func pkcs1RSAKeys() throws {
        guard case .rsa(let key) = try SigningKey.generate(rsaBits: 2048) else { return }
        #expect(try SigningKey(pem: key.pemRepresentation).rsaBits == 2048)
    }

    @Test func unusableKeysAreRefusedWithAReason() throws {
        func problem(_ pem: String) -> String {
            do {
                _ = try SigningKey(pem: pem)
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(problem("not a key").contains("neither an RSA key"))
        #expect(problem("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n").contains("encrypted"))
        // RFC 8410 §10.3's example: an Ed25519 key with attributes and its public key.
        let v2 = """
            -----BEGIN PRIVATE KEY-----
            MHICAQEwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
            oB8wHQYKKoZIhvcNAQkJFDEPDA1DdXJkbGUgQ2hhaXJzgSEAGb9ECWmEzf6FQbrB
            Z9w7lshQhqowtrbLDFw4rXAxZuE=
            -----END PRIVATE KEY-----
            """
        #expect(problem(v2).contains("PKCS#8 form Veil does not read"))
        // An X25519 key (same curve, not a signing key) is not taken for Ed25519.
        let x25519 = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEIGAHsVrOHsVKaXx3lfvPDuFhvY/eyC2Cpm5fnwW5tMNq\n-----END PRIVATE KEY-----\n"
        #expect(problem(x25519).contains("neither an RSA key"))
    }
}
