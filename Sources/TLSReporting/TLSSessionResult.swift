/// What one SMTP session attempt tells a TLS report (RFC 8460 §4): the policy it
/// was held to, the two hosts, and whether TLS was set up as the policy asked.
/// Plain fields, so a row of a table holds one (`resultType` NULL for a success)
/// and ``TLSReportTally`` rebuilds the day's report from the rows read back.
public struct TLSSessionResult: Codable, Sendable, Equatable {
    /// In A-labels (§4.4): the recipient domain for MTA-STS, the TLSA base domain
    /// (the MX host) for DANE (RFC 8460 §1.1, "Policy Domain").
    public var policyDomain: String
    public var policyType: TLSReport.PolicyType
    /// See ``TLSReport/Policy/policyStrings``.
    public var policyStrings: [String]
    /// See ``TLSReport/Policy/mxHosts``.
    public var mxHosts: [String]
    /// The address Veil connected from.
    public var sendingMTAIP: String
    public var receivingMXHostname: String
    /// The address Veil connected to.
    public var receivingIP: String
    /// Nil: the session set up TLS as the policy asked (a successful session, §4.2.1).
    public var resultType: TLSResultType?
    /// For a failure: a TLS error code or message (§4.3.3).
    public var failureReasonCode: String?

    public init(policyDomain: String, policyType: TLSReport.PolicyType, policyStrings: [String], mxHosts: [String],
                sendingMTAIP: String, receivingMXHostname: String, receivingIP: String,
                resultType: TLSResultType?, failureReasonCode: String? = nil) {
        self.policyDomain = policyDomain
        self.policyType = policyType
        self.policyStrings = policyStrings
        self.mxHosts = mxHosts
        self.sendingMTAIP = sendingMTAIP
        self.receivingMXHostname = receivingMXHostname
        self.receivingIP = receivingIP
        self.resultType = resultType
        self.failureReasonCode = failureReasonCode
    }
}
