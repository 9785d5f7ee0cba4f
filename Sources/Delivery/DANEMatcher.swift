import Crypto
import NIOSSL
import PolicyRecords

/// RFC 7672 §3.1 and RFC 6698 §2.1: whether a certificate of the server's chain
/// is the one a TLSA record names, by its DER or its SubjectPublicKeyInfo, whole
/// or hashed.
public enum DANEMatcher {
    /// The parts of one certificate a TLSA record can name.
    public struct Certificate: Sendable {
        public var der: [UInt8]
        public var subjectPublicKeyInfo: [UInt8]

        public init(der: [UInt8], subjectPublicKeyInfo: [UInt8]) {
            self.der = der
            self.subjectPublicKeyInfo = subjectPublicKeyInfo
        }

        /// The parts of a certificate the server sent.
        public init(_ certificate: NIOSSLCertificate) throws {
            self.init(der: try certificate.toDERBytes(), subjectPublicKeyInfo: try certificate.extractPublicKey().toSPKIBytes())
        }
    }

    /// True when `record` (usable, RFC 7672 §3.1.3) names `certificate`.
    public static func matches(_ record: TLSARecord, _ certificate: Certificate) -> Bool {
        guard record.isUsable, let selector = TLSARecord.Selector(rawValue: record.selector),
              let matching = TLSARecord.Matching(rawValue: record.matching) else { return false }
        let selected = selector == .certificate ? certificate.der : certificate.subjectPublicKeyInfo
        switch matching {
        case .exact: return selected == record.data
        case .sha256: return Array(SHA256.hash(data: selected)) == record.data
        case .sha512: return Array(SHA512.hash(data: selected)) == record.data
        }
    }

    /// DANE-EE(3), RFC 7672 §3.1.1: the server's own certificate (the first of its
    /// chain) matches a DANE-EE record; its names and dates do not matter.
    public static func endEntityMatches(_ records: [TLSARecord], leaf: Certificate) -> Bool {
        records.contains { $0.usage == TLSARecord.Usage.daneEE.rawValue && matches($0, leaf) }
    }
}
