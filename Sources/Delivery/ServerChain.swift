import NIOSSL
import X509

/// The certificates a server sent, made safe to build paths from: at most ten,
/// and no two with the same subject and key. Path building tries every issuer
/// that fits; a hostile chain of many certificates of one subject and key, each
/// signing the others, would make it try factorially many paths.
struct ServerChain {
    static let maximumLength = 10

    struct Entry {
        var certificate: Certificate
        /// What a TLSA record can name of it (RFC 6698 §2.1.2).
        var parts: DANEMatcher.Certificate
    }

    /// Its own certificate first.
    let entries: [Entry]

    /// Nil when a certificate cannot be read or there are too many.
    init?(_ chain: [NIOSSLCertificate]) {
        guard !chain.isEmpty, chain.count <= Self.maximumLength else { return nil }
        var seen = Set<Identity>()
        var entries: [Entry] = []
        for presented in chain {
            guard let der = try? presented.toDERBytes(), let certificate = try? Certificate(derEncoded: der) else { return nil }
            let key = Array(certificate.publicKey.subjectPublicKeyInfoBytes)
            guard seen.insert(Identity(subject: certificate.subject, key: key)).inserted else { continue }
            entries.append(Entry(certificate: certificate, parts: DANEMatcher.Certificate(der: der, subjectPublicKeyInfo: key)))
        }
        self.entries = entries
    }

    var leaf: Certificate { entries[0].certificate }
    var intermediates: CertificateStore { CertificateStore(entries.dropFirst().map(\.certificate)) }

    private struct Identity: Hashable {
        var subject: DistinguishedName
        var key: [UInt8]
    }
}
