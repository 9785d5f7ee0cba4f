import Delivery
import PolicyRecords
import Testing
import TLSReporting
@testable import Outbound

/// What a connection tells a TLS report (RFC 8460 §4): the policy type and domain,
/// and the result type of §4.3.
@Suite struct TLSResultRecorderTests {
    static let host = MXResolver.Host(name: "mx.example.org", addresses: ["192.0.2.25"], secure: true)
    static let plainDomain = TLSResultRecorder.Destination(domain: "example.org", sts: nil)

    static func report(tls: TLSSessionInfo? = nil, failure: TLSFailure? = nil) -> SessionReport {
        var report = SessionReport(messageCount: 1)
        report.tls = tls
        report.tlsFailure = failure
        report.localAddress = "192.0.2.1"
        return report
    }

    static func result(_ destination: TLSResultRecorder.Destination = plainDomain, policy: HostTLSPolicy? = nil,
                       skipped: String? = nil, report: SessionReport? = nil) -> TLSSessionResult? {
        TLSResultRecorder.result(destination, host: host, address: skipped == nil ? "192.0.2.25" : nil, policy: policy,
                                 skipped: skipped, report: report)
    }

    @Test func daneSessionsReportUnderTheTLSABaseDomain() throws {
        let record = try #require(TLSARecord(rdata: [3, 1, 1] + [UInt8](repeating: 0xAB, count: 32)))
        let dane = HostTLSPolicy(requirement: .dane(records: [record], names: ["mx.example.org"]), name: "dane")
        let verified = TLSSessionInfo(protocolName: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256", verifiedBy: .daneEE)
        let success = try #require(Self.result(policy: dane, report: Self.report(tls: verified)))
        #expect(success.policyType == .tlsa && success.policyDomain == "mx.example.org" && success.resultType == nil)
        #expect(success.policyStrings == [record.description] && success.sendingMTAIP == "192.0.2.1")
        let mismatch = Self.result(policy: dane, report: Self.report(failure: .daneValidation("no TLSA record matches")))
        #expect(mismatch?.resultType == .tlsaInvalid && mismatch?.failureReasonCode == "no TLSA record matches")
        #expect(Self.result(skipped: "TLSA lookup for _25._tcp.mx.example.org: DNSSEC validation failed: x")?.resultType
                == .dnssecInvalid)
        #expect(Self.result(skipped: "dane-only: mx.example.org has no DNSSEC-validated TLSA records")?.resultType
                == .daneRequired)
    }

    @Test func mtaSTSSessionsQuoteThePolicy() throws {
        let policy = try MTASTSPolicy(text: "version: STSv1\nmode: enforce\nmx: *.example.org\nmax_age: 86400\n")
        let destination = TLSResultRecorder.Destination(domain: "example.org", sts: .init(policy: policy))
        let pkix = HostTLSPolicy(requirement: .pkix, name: "mta-sts")
        let stripped = try #require(Self.result(destination, policy: pkix, report: Self.report(failure: .starttlsNotSupported)))
        #expect(stripped.policyType == .sts && stripped.policyDomain == "example.org" && stripped.mxHosts == ["*.example.org"])
        #expect(stripped.policyStrings == policy.lines && stripped.resultType == .starttlsNotSupported)
        #expect(Self.result(destination, policy: pkix, report: Self.report(failure: .certificateHostMismatch))?.resultType
                == .certificateHostMismatch)
        #expect(Self.result(destination, skipped: "mta-sts: mx.example.org is not an MX host")?.resultType == .validationFailure)
        // A policy that could not be fetched.
        let failed = TLSResultRecorder.Destination(domain: "example.org",
                                                   sts: .init(policy: nil, failure: (.stsPolicyFetchError, "HTTP status 404")))
        #expect(Self.result(failed, policy: HostTLSPolicy(requirement: .opportunistic, name: "opportunistic"),
                            report: Self.report())?.resultType == .stsPolicyFetchError)
    }

    @Test func sessionsThatNeverReachedTLSAreNotCounted() {
        let opportunistic = HostTLSPolicy(requirement: .opportunistic, name: "opportunistic")
        #expect(Self.result(policy: opportunistic, report: Self.report()) == nil)
        #expect(Self.result(skipped: "TLSA lookup for _25._tcp.mx.example.org: SERVFAIL") == nil)
        let plain = Self.result(policy: opportunistic, report: Self.report(failure: .starttlsNotSupported))
        #expect(plain?.policyType == .noPolicyFound && plain?.resultType == .starttlsNotSupported)
    }
}
