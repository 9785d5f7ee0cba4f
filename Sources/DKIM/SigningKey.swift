import Crypto
import CryptoExtras
import Foundation

/// A DKIM private key: RSA (rsa-sha256, RFC 6376 §3.3.1, 1024 to 4096 bits,
/// RFC 8301) or Ed25519 (ed25519-sha256, RFC 8463), read from PEM. All
/// cryptography is swift-crypto's.
public enum SigningKey: Sendable {
    case rsa(_RSA.Signing.PrivateKey)
    case ed25519(Curve25519.Signing.PrivateKey)

    /// Why a key file cannot be used.
    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// `openssl genpkey -algorithm ed25519` writes PKCS#8 (RFC 8410): this DER
    /// prefix, then the 32-byte private key.
    static let ed25519PKCS8Prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70,
                                              0x04, 0x22, 0x04, 0x20]

    /// An RSA key in PKCS#1 or PKCS#8 PEM, or an Ed25519 key in PKCS#8 PEM.
    public init(pem: String) throws(LoadError) {
        if pem.contains("ENCRYPTED PRIVATE KEY") || pem.contains("Proc-Type: 4,ENCRYPTED") {
            throw LoadError(description: "the key is encrypted; Veil needs it in clear (openssl pkey -in KEY -out PLAIN), readable only by Veil")
        }
        if let der = Self.pkcs8DER(pem) {
            if der.count == 48, der.starts(with: Self.ed25519PKCS8Prefix) {
                guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32)) else {
                    throw LoadError(description: "not a valid Ed25519 key")
                }
                self = .ed25519(key)
                return
            }
            // The Ed25519 algorithm (OID 1.3.101.112) at the head of another PKCS#8
            // form (RFC 8410 §7: version 2, with the public key or attributes).
            if der.count > 48, der.prefix(16).firstRange(of: [0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70]) != nil {
                throw LoadError(description: "an Ed25519 key in a PKCS#8 form Veil does not read; write it as "
                                + "`openssl genpkey -algorithm ed25519` does: openssl pkey -in KEY -out NEW")
            }
        }
        let key: _RSA.Signing.PrivateKey
        do {
            key = try _RSA.Signing.PrivateKey(unsafePEMRepresentation: pem)
        } catch CryptoKitError.incorrectParameterSize {
            throw LoadError(description: "an RSA key under 1024 bits, which receivers refuse (RFC 8301); use 2048 bits")
        } catch {
            throw LoadError(description: "neither an RSA key (PEM) nor an Ed25519 key (PKCS#8 PEM)")
        }
        guard key.keySizeInBits <= 4096 else {
            throw LoadError(description: "an RSA key of \(key.keySizeInBits) bits; receivers need not check more than 4096 (RFC 8301)")
        }
        self = .rsa(key)
    }

    /// A new key: RSA of `rsaBits` bits, or Ed25519 when nil.
    public static func generate(rsaBits: Int?) throws -> SigningKey {
        guard let rsaBits else { return .ed25519(Curve25519.Signing.PrivateKey()) }
        return .rsa(try _RSA.Signing.PrivateKey(keySize: .init(bitCount: rsaBits)))
    }

    /// The key in PEM, as ``init(pem:)`` reads it (PKCS#8 for both kinds).
    public var pem: String {
        switch self {
        case .rsa(let key):
            return key.pkcs8PEMRepresentation
        case .ed25519(let key):
            let der = Data(Self.ed25519PKCS8Prefix + key.rawRepresentation)
            return "-----BEGIN PRIVATE KEY-----\n\(der.base64EncodedString())\n-----END PRIVATE KEY-----\n"
        }
    }

    /// `a=`.
    public var algorithm: String {
        switch self {
        case .rsa: return "rsa-sha256"
        case .ed25519: return "ed25519-sha256"
        }
    }

    /// `k=` of the DNS record.
    public var keyType: String {
        switch self {
        case .rsa: return "rsa"
        case .ed25519: return "ed25519"
        }
    }

    /// The RSA modulus size; nil for Ed25519.
    public var rsaBits: Int? {
        if case .rsa(let key) = self { return key.keySizeInBits }
        return nil
    }

    /// The length of a signature in bytes (so of `b=` before it is made).
    var signatureLength: Int {
        switch self {
        case .rsa(let key): return (key.keySizeInBits + 7) / 8
        case .ed25519: return 64
        }
    }

    /// `p=` of the DNS record: the SubjectPublicKeyInfo DER for RSA (RFC 6376
    /// §3.6.1, as every signer publishes it), the raw 32 bytes for Ed25519 (RFC
    /// 8463 §4), in base64.
    public var publicKeyBase64: String {
        switch self {
        case .rsa(let key): return key.publicKey.derRepresentation.base64EncodedString()
        case .ed25519(let key): return key.publicKey.rawRepresentation.base64EncodedString()
        }
    }

    /// The TXT record to publish at `selector._domainkey.domain` (RFC 6376 §3.6.1).
    public var dnsRecord: String {
        "v=DKIM1; k=\(keyType); p=\(publicKeyBase64)"
    }

    /// Signs the hash of the canonical header data: PKCS#1 v1.5 over the SHA-256
    /// digest for RSA (RFC 6376 §3.3.1); Ed25519 over the 32 digest bytes (RFC 8463
    /// §3, PureEdDSA on the hash).
    func sign(_ digest: SHA256.Digest) throws -> [UInt8] {
        switch self {
        case .rsa(let key):
            return Array(try key.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation)
        case .ed25519(let key):
            return Array(try key.signature(for: Array(digest)))
        }
    }

    /// The DER inside `-----BEGIN PRIVATE KEY-----` (PKCS#8), if that is what `pem` holds.
    static func pkcs8DER(_ pem: String) -> [UInt8]? {
        guard let begin = pem.range(of: "-----BEGIN PRIVATE KEY-----"),
              let end = pem.range(of: "-----END PRIVATE KEY-----", range: begin.upperBound..<pem.endIndex)
        else { return nil }
        return Data(base64Encoded: String(pem[begin.upperBound..<end.lowerBound]), options: .ignoreUnknownCharacters).map(Array.init)
    }
}

extension SigningKey {
    /// The record as a zone file line (and unbound `local-data`): the value in
    /// quoted strings of at most 255 characters, the most a TXT string holds.
    public func zoneFileLine(domain: String, selector: String) -> String {
        var strings: [String] = []
        var rest = Substring(dnsRecord)
        while !rest.isEmpty {
            strings.append("\"\(rest.prefix(255))\"")
            rest = rest.dropFirst(255)
        }
        return "\(selector)._domainkey.\(domain). TXT \(strings.joined(separator: " "))"
    }

    /// What a published key record (RFC 6376 §3.6.1) says about this key.
    public enum RecordMatch: Equatable, Sendable {
        case matches
        /// A valid key record, for another key.
        case otherKey
        /// `p=` is empty: the key is revoked.
        case revoked
        /// Not a DKIM key record, or one Veil's signatures cannot be checked against.
        case unusable(String)
    }

    /// Compares a TXT record's text (its strings joined) with this key.
    public func match(record: String) -> RecordMatch {
        var tags: [String: String] = [:]
        for tag in record.split(separator: ";") {
            let parts = tag.split(separator: "=", maxSplits: 1)
            guard let name = parts.first?.trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty else { continue }
            tags[name] = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespacesAndNewlines) : ""
        }
        if let version = tags["v"], version != "DKIM1" { return .unusable("v=\(version) is not DKIM1") }
        // Base64 may be folded with whitespace (RFC 6376 §3.6.1).
        guard let published = tags["p"]?.filter({ !$0.isWhitespace }) else { return .unusable("no p= tag") }
        guard !published.isEmpty else { return .revoked }
        // A key of the other kind is another key.
        guard (tags["k"] ?? "rsa") == keyType else { return .otherKey }
        // h= (hash algorithms) and s= (service types), when given, must admit
        // Veil's signatures: sha256, and email.
        if let hashes = tags["h"], !hashes.split(separator: ":").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "sha256" }) {
            return .unusable("h=\(hashes) does not allow sha256")
        }
        if let services = tags["s"], !services.split(separator: ":").contains(where: { ["email", "*"].contains($0.trimmingCharacters(in: .whitespaces)) }) {
            return .unusable("s=\(services) does not allow email")
        }
        guard let bytes = Data(base64Encoded: published) else { return .unusable("p= is not base64") }
        switch self {
        case .rsa(let key):
            // SubjectPublicKeyInfo, or the bare RSAPublicKey some publish.
            guard let publishedKey = try? _RSA.Signing.PublicKey(unsafeDERRepresentation: bytes) else {
                return .unusable("p= is not an RSA public key")
            }
            return publishedKey.derRepresentation == key.publicKey.derRepresentation ? .matches : .otherKey
        case .ed25519(let key):
            return bytes == key.publicKey.rawRepresentation ? .matches : .otherKey
        }
    }
}
