/// Why a session failed to set up TLS as its policy asked: the `result-type` of a
/// report's failure details (RFC 8460 §4.3, the initial entries of the IANA
/// "STARTTLS Validation Result Types" registry that §6 creates).
public enum TLSResultType: String, Codable, Sendable, CaseIterable {
    // §4.3.1 Negotiation failures.

    /// The MX host did not offer STARTTLS.
    case starttlsNotSupported = "starttls-not-supported"
    /// The certificate does not name the MX host as the policy requires (MTA-STS:
    /// RFC 8461 §4.2; DANE-TA: RFC 7672 §3.2).
    case certificateHostMismatch = "certificate-host-mismatch"
    case certificateExpired = "certificate-expired"
    /// Untrusted or unknown CA, broken chain, name constraints...: say which in
    /// `failure-reason-code`.
    case certificateNotTrusted = "certificate-not-trusted"
    /// Any other failure (§4.3.3): say which in `failure-reason-code`.
    case validationFailure = "validation-failure"

    // §4.3.2.1 DANE policy failures.

    /// No record of the TLSA RRset matched the certificate chain.
    case tlsaInvalid = "tlsa-invalid"
    /// The TLSA lookup failed DNSSEC validation (a bogus answer, SERVFAIL).
    case dnssecInvalid = "dnssec-invalid"
    /// DANE is required for the destination but the MX host has no
    /// DNSSEC-validated TLSA records.
    case daneRequired = "dane-required"

    // §4.3.2.2 MTA-STS policy failures.

    /// The policy could not be fetched (policy host unreachable, HTTP error...).
    case stsPolicyFetchError = "sts-policy-fetch-error"
    /// The policy was fetched but is not a valid policy.
    case stsPolicyInvalid = "sts-policy-invalid"
    /// The policy host's certificate failed PKIX validation.
    case stsWebPKIInvalid = "sts-webpki-invalid"
}
