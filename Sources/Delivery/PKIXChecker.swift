import NIOSSL
import X509

/// Checks a server's chain as an MTA-STS policy wants it (RFC 8461 §4.2: valid from
/// a trusted root, and naming the MX host) without refusing it: for policies in
/// testing mode, whose failures only go into TLS reports (§5, RFC 8460 §4.3).
public struct PKIXChecker: Sendable {
    private let roots: CertificateStore

    /// The system's roots, plus those of `caFile` (`tls_ca_file`).
    public init(caFile: String?) throws {
        let extra = try caFile.map { try NIOSSLCertificate.fromPEMFile($0) } ?? []
        roots = CertificateStore.systemTrustRoots.appending(contentsOf: try extra.map { try Certificate(derEncoded: $0.toDERBytes()) })
    }

    /// Nil when the chain is valid for `host`; else what is wrong with it.
    public func check(_ chain: [NIOSSLCertificate], host: String) async -> TLSFailure? {
        guard let certificates = try? chain.map({ try Certificate(derEncoded: $0.toDERBytes()) }), let leaf = certificates.first
        else { return .certificateNotTrusted("unreadable certificate") }
        let intermediates = CertificateStore(certificates.dropFirst())
        var path = Verifier(rootCertificates: roots) { RFC5280Policy() }
        guard case .validCertificate = await path.validate(leaf: leaf, intermediates: intermediates) else {
            return .certificateNotTrusted("the chain does not lead to a trusted root, or a certificate has expired")
        }
        var named = Verifier(rootCertificates: roots) {
            RFC5280Policy()
            ServerIdentityPolicy(serverHostname: host, serverIP: nil)
        }
        guard case .validCertificate = await named.validate(leaf: leaf, intermediates: intermediates) else {
            return .certificateHostMismatch
        }
        return nil
    }
}
