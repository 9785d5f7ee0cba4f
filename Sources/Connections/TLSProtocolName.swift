import NIOSSL

extension TLSVersion {
    /// The protocol as OpenSSL and Postfix logs name it ("TLSv1.3").
    public var protocolName: String {
        switch self {
        case .tlsv1: return "TLSv1"
        case .tlsv11: return "TLSv1.1"
        case .tlsv12: return "TLSv1.2"
        case .tlsv13: return "TLSv1.3"
        }
    }
}
