import NIOSSL
import PolicyRecords
import Testing
@testable import Delivery

/// TLSA matching (RFC 6698 §2.1, RFC 7672 §3.1.1) against a certificate whose
/// hashes openssl computed: `openssl x509 -pubkey | openssl pkey -pubin -outform
/// DER | openssl dgst -sha256`, and `openssl x509 -outform DER | openssl dgst -sha512`.
@Suite struct DANEMatcherTests {
    static let pem = """
        -----BEGIN CERTIFICATE-----
        MIIBijCCATGgAwIBAgIUPMp3Gf9UWU+NDrjF7nay0I6x4PwwCgYIKoZIzj0EAwIw
        GjEYMBYGA1UEAwwPbXguZGFuZS52ZWlsc2VjMCAXDTI2MTIwNzIyMDc0N1oYDzIx
        MjYxMTEzMjIwNzQ3WjAaMRgwFgYDVQQDDA9teC5kYW5lLnZlaWxzZWMwWTATBgcq
        hkjOPQIBBggqhkjOPQMBBwNCAARrlaiDsolIG5p0392EO+nn7KQceOvsBZTHsdmf
        QZ/ip2PB+T5IlnJF+omXTwlW/tnj9hP4MRwGyY3sjK1Mi2v8o1MwUTAdBgNVHQ4E
        FgQU+LWofeeXc+AVA5W2klAZrh1JH30wHwYDVR0jBBgwFoAU+LWofeeXc+AVA5W2
        klAZrh1JH30wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiB0Gsg2
        Lj8TKCZaxrfDJxa1d9g9LzzNX/J72gl2r6bYiAIgUS/lUIpcOHTSsP7UOZ7vgfXs
        OpwEuuYlagDiNJ/gsHs=
        -----END CERTIFICATE-----
        """
    static let spkiSHA256 = "bb150537ca8acf55a8813fbf704e1e24f61b9563467a8153b1112c14730fe052"
    static let certificateSHA512 = "e8e15d67add7341bb740ce1e2bdd7fb0c24ade146bdddfdd13223cc3a07c923c"
        + "b2fde6ebc0ed2ad72b1a9804ffbadccb2459f73c8958f7b8d0f26e9ab6e2453f"

    static func bytes(_ hex: String) -> [UInt8] {
        stride(from: 0, to: hex.count, by: 2).map { offset in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
    }

    static func leaf() throws -> DANEMatcher.Certificate {
        let certificate = try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem)
        return try DANEMatcher.Certificate(certificate)
    }

    @Test func endEntityRecordsMatchByKeyOrCertificate() throws {
        let leaf = try Self.leaf()
        let byKey = TLSARecord(usage: .daneEE, selector: .publicKey, matching: .sha256, data: Self.bytes(Self.spkiSHA256))
        let byCertificate = TLSARecord(usage: .daneEE, selector: .certificate, matching: .sha512,
                                       data: Self.bytes(Self.certificateSHA512))
        let exact = TLSARecord(usage: .daneEE, selector: .certificate, matching: .exact, data: leaf.der)
        #expect(DANEMatcher.endEntityMatches([byKey], leaf: leaf))
        #expect(DANEMatcher.endEntityMatches([byCertificate], leaf: leaf))
        #expect(DANEMatcher.endEntityMatches([exact], leaf: leaf))
    }

    @Test func otherRecordsDoNotMatch() throws {
        let leaf = try Self.leaf()
        var other = Self.bytes(Self.spkiSHA256)
        other[0] ^= 1
        #expect(!DANEMatcher.endEntityMatches([TLSARecord(usage: .daneEE, selector: .publicKey, matching: .sha256, data: other)], leaf: leaf))
        // The right hash with the wrong selector, or as a DANE-TA or PKIX record.
        #expect(!DANEMatcher.endEntityMatches(
            [TLSARecord(usage: .daneEE, selector: .certificate, matching: .sha256, data: Self.bytes(Self.spkiSHA256))], leaf: leaf))
        #expect(!DANEMatcher.endEntityMatches(
            [TLSARecord(usage: .daneTA, selector: .publicKey, matching: .sha256, data: Self.bytes(Self.spkiSHA256))], leaf: leaf))
        #expect(!DANEMatcher.endEntityMatches(
            [TLSARecord(usage: .pkixEE, selector: .publicKey, matching: .sha256, data: Self.bytes(Self.spkiSHA256))], leaf: leaf))
    }
}
