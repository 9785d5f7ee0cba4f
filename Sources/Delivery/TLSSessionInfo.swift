/// The TLS a delivery session ran with: for the log (`tls=`), the metrics, and
/// later the TLS reports of RFC 8460.
public struct TLSSessionInfo: Sendable, Equatable, CustomStringConvertible {
    /// How the server's certificate was checked.
    public enum Verification: String, Sendable, Equatable {
        /// Chain and name checked against the trust store (`verify`, MTA-STS).
        case pki = "verified"
        /// The server's certificate matched a DANE-EE record (RFC 7672 §3.1.1).
        case daneEE = "dane-ee"
        /// The chain led to a certificate a DANE-TA record names (RFC 7672 §3.1.2).
        case daneTA = "dane-ta"
    }

    /// "TLSv1.3", as OpenSSL and Postfix logs name it.
    public var protocolName: String
    /// The IANA name of the cipher suite, or "unknown".
    public var cipher: String
    /// Nil when the certificate was not checked.
    public var verifiedBy: Verification?

    public init(protocolName: String, cipher: String, verifiedBy: Verification?) {
        self.protocolName = protocolName
        self.cipher = cipher
        self.verifiedBy = verifiedBy
    }

    /// As logged: "TLSv1.3 TLS_AES_256_GCM_SHA384 verified" (or "dane-ee",
    /// "dane-ta", "unverified").
    public var description: String {
        "\(protocolName) \(cipher) \(verifiedBy?.rawValue ?? "unverified")"
    }
}

/// Why a connection did not get the TLS its requirement asked for; the failure
/// types of TLS reports (RFC 8460 §4.3) are made from it.
public enum TLSFailure: Sendable, Equatable {
    /// No STARTTLS offered, or the command refused (§4.3.1 starttls-not-supported):
    /// the session failed, or (under opportunistic TLS) went on in plain text.
    case starttlsNotSupported
    /// The certificate does not name the host (certificate-host-mismatch).
    case certificateHostMismatch
    /// The chain does not lead to a trusted root, or a certificate has expired
    /// (certificate-not-trusted, certificate-expired).
    case certificateNotTrusted(String)
    /// No TLSA record authenticated the chain (§4.3.2 validation-failure, DANE).
    case daneValidation(String)
    /// The handshake failed for another reason (validation-failure).
    case handshake(String)
}
