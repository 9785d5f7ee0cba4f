import Foundation
import Testing
import TLSReporting

@Suite struct TLSReportTallyTests {
    @Test func countsPerPolicyAndFailure() {
        let report = Fixtures.report()
        #expect(report.policies.map(\.policy.policyDomain) == ["example.net", "example.org"])
        #expect(report.policies[0].summary == .init(totalSuccessfulSessionCount: 2, totalFailureSessionCount: 3))
        #expect(report.policies[0].failureDetails == [
            .init(resultType: .certificateExpired, sendingMTAIP: "198.51.100.1", receivingMXHostname: "mx1.mail.example.net",
                  receivingIP: "192.0.2.10", failedSessionCount: 2),
            .init(resultType: .validationFailure, sendingMTAIP: "198.51.100.1", receivingMXHostname: "mx1.mail.example.net",
                  receivingIP: "2001:db8::25", failedSessionCount: 1,
                  failureReasonCode: "X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION"),
        ])
        #expect(report.policies[1].summary == .init(totalSuccessfulSessionCount: 1, totalFailureSessionCount: 0))
        #expect(report.policies[1].failureDetails.isEmpty)
    }

    /// Another policy string (the domain changed its MTA-STS policy during the
    /// day) is another `policies` entry; a reason code of its own is another detail.
    @Test func policiesAndDetailsKeptApart() {
        let testing = ["version: STSv1", "mode: testing", "mx: *.mail.example.net", "max_age: 86400"]
        let report = Fixtures.report([
            Fixtures.session(.certificateNotTrusted, failureReasonCode: "unknown-ca"),
            Fixtures.session(.certificateNotTrusted, failureReasonCode: "chain"),
            Fixtures.session(.certificateNotTrusted),
            Fixtures.session(nil, policyStrings: testing),
            Fixtures.session(.daneRequired, policyDomain: "mx1.mail.example.net", policyType: .tlsa, policyStrings: [],
                             mxHosts: []),
        ])
        #expect(report.policies.map(\.policy.policyDomain) == ["example.net", "example.net", "mx1.mail.example.net"])
        #expect(report.policies.map(\.policy.policyStrings) == [Fixtures.stsPolicy, testing, []])
        #expect(report.policies[0].failureDetails.map(\.failureReasonCode) == [nil, "chain", "unknown-ca"])
        #expect(report.policies[0].summary.totalFailureSessionCount == 3)
        #expect(report.policies[1].summary == .init(totalSuccessfulSessionCount: 1, totalFailureSessionCount: 0))
        #expect(report.policies[2].policy.policyType == .tlsa)
    }

    @Test func mxHostsAreTheUnionSorted() {
        let report = Fixtures.report([
            Fixtures.session(nil, mxHosts: ["mx2.example.net", "*.mail.example.net"]),
            Fixtures.session(nil, mxHosts: ["*.mail.example.net"]),
        ])
        #expect(report.policies.map(\.policy.mxHosts) == [["*.mail.example.net", "mx2.example.net"]])
    }

    @Test func orderOfSessionsDoesNotMatter() {
        #expect(Fixtures.report(Fixtures.sessions.reversed()) == Fixtures.report())
        #expect(Fixtures.report(Fixtures.sessions.shuffled()) == Fixtures.report())
    }

    /// Rows as a table would keep them (here JSON), read back, give the same report.
    @Test func rebuiltFromStoredRows() throws {
        let rows = try Fixtures.sessions.map { try JSONEncoder().encode($0) }
        let readBack = try rows.map { try JSONDecoder().decode(TLSSessionResult.self, from: $0) }
        #expect(readBack == Fixtures.sessions)
        #expect(Fixtures.report(readBack) == Fixtures.report())
        var tally = TLSReportTally()
        for session in readBack { tally.add(session) }
        #expect(tally.report(organizationName: "Relay Org", contactInfo: "postmaster@relay.example",
                             reportID: "20261130.example.net@relay.example",
                             dateRange: .init(utcDayContaining: Fixtures.noon)) == Fixtures.report())
    }

    /// A session counted N times (a table's count) adds up as N sessions added one by one.
    @Test func sessionsAddedWithTheirCount() {
        var tally = TLSReportTally()
        tally.add(Fixtures.session(nil), sessions: 2)
        tally.add(Fixtures.session(.certificateExpired), sessions: 2)
        tally.add(Fixtures.sessions[3])
        tally.add(Fixtures.sessions[5])
        #expect(tally.report(organizationName: "Relay Org", contactInfo: "postmaster@relay.example",
                             reportID: "20261130.example.net@relay.example",
                             dateRange: .init(utcDayContaining: Fixtures.noon)) == Fixtures.report())
    }

    @Test func nothingAddedNoPolicies() {
        #expect(Fixtures.report([]).policies.isEmpty)
    }
}
