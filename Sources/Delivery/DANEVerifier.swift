import Foundation
import NIOSSL
import PolicyRecords
import X509

/// Authenticates a server's certificate chain with its TLSA records (RFC 7672
/// §3.1): a DANE-EE(3) record matching the server's own certificate is enough,
/// whatever its names and dates (§3.1.1); a DANE-TA(2) record must match a
/// certificate of the presented chain, which must then be a valid path from that
/// anchor to the server's certificate, naming the MX host (§3.1.2, §3.2.2).
public enum DANEVerifier {
    public enum Outcome: Sendable, Equatable {
        case endEntity
        case trustAnchor
        /// Why no record authenticated the chain, for the log and TLS reports.
        case failed(String)
    }

    /// `chain`: as the server presented it, its own certificate first. `names`: the
    /// reference identifiers for DANE-TA (the TLSA base domain, the MX host name).
    public static func verify(_ chain: [NIOSSLCertificate], records: [TLSARecord], names: [String]) async -> Outcome {
        guard let leaf = chain.first.flatMap({ try? DANEMatcher.Certificate($0) }) else { return .failed("the server's certificate cannot be read") }
        if DANEMatcher.endEntityMatches(records, leaf: leaf) { return .endEntity }

        let anchors = records.filter { $0.usage == TLSARecord.Usage.daneTA.rawValue && $0.isUsable }
        guard !anchors.isEmpty else { return .failed("no TLSA record matches the server's certificate") }
        // §3.1.2: the anchor is one of the certificates the server sent.
        guard let chain = ServerChain(chain) else {
            return .failed("a certificate of the chain cannot be read, or it has more than \(ServerChain.maximumLength)")
        }
        let matched = chain.entries.filter { entry in anchors.contains { DANEMatcher.matches($0, entry.parts) } }
        guard !matched.isEmpty else { return .failed("no certificate of the server's chain matches a DANE-TA record") }
        let names = names.isEmpty ? [""] : names
        for anchor in matched {
            // RFC 5280 path rules (dates, basic constraints, name constraints) from
            // the anchor, and one of the names (§3.2.2: no wildcard rules of its own).
            // `names`: the TLSA base domain and the MX host, the same when no CNAME.
            var verifier = Verifier(rootCertificates: CertificateStore([anchor.certificate])) {
                RFC5280Policy()
                OneOfPolicies {
                    ServerIdentityPolicy(serverHostname: names[0], serverIP: nil)
                    ServerIdentityPolicy(serverHostname: names[names.count - 1], serverIP: nil)
                }
            }
            if case .validCertificate = await verifier.validate(leaf: chain.leaf, intermediates: chain.intermediates) {
                return .trustAnchor
            }
        }
        return .failed("the chain from the DANE-TA certificate does not validate for \(names.joined(separator: " or "))")
    }
}
