import Foundation
import TLSReporting

/// Sessions of one day to example.net (MTA-STS) and example.org (no policy).
enum Fixtures {
    static let stsPolicy = ["version: STSv1", "mode: enforce", "mx: *.mail.example.net", "max_age: 604800"]
    /// 2026-11-30T12:00:00Z.
    static let noon = Date(timeIntervalSince1970: 1_796_040_000)

    static func session(_ resultType: TLSResultType?, policyDomain: String = "example.net",
                        policyType: TLSReport.PolicyType = .sts, policyStrings: [String] = stsPolicy,
                        mxHosts: [String] = ["*.mail.example.net"], mx: String = "mx1.mail.example.net",
                        receivingIP: String = "192.0.2.10", failureReasonCode: String? = nil) -> TLSSessionResult {
        TLSSessionResult(policyDomain: policyDomain, policyType: policyType, policyStrings: policyStrings, mxHosts: mxHosts,
                         sendingMTAIP: "198.51.100.1", receivingMXHostname: mx, receivingIP: receivingIP,
                         resultType: resultType, failureReasonCode: failureReasonCode)
    }

    /// Two successes, two expired certificates on one MX, one validation failure
    /// with a reason on another address; one success to a domain without a policy.
    static let sessions: [TLSSessionResult] = [
        session(nil),
        session(.certificateExpired),
        session(nil),
        session(.validationFailure, receivingIP: "2001:db8::25", failureReasonCode: "X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION"),
        session(.certificateExpired),
        session(nil, policyDomain: "example.org", policyType: .noPolicyFound, policyStrings: [], mxHosts: [],
                mx: "mx.example.org", receivingIP: "192.0.2.99"),
    ]

    static func report(_ sessions: [TLSSessionResult] = sessions) -> TLSReport {
        TLSReportTally(sessions).report(organizationName: "Relay Org", contactInfo: "postmaster@relay.example",
                                        reportID: "20261130.example.net@relay.example",
                                        dateRange: TLSReport.DateRange(utcDayContaining: noon))
    }
}
