import Foundation
import Testing
import TLSReporting

/// The report's JSON as RFC 8460 §4.4 names and shapes it.
@Suite struct TLSReportJSONTests {
    func object(_ report: TLSReport) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(report.json())) as? [String: Any])
    }

    @Test func topLevelAndDateRange() throws {
        let json = try object(Fixtures.report())
        #expect(Set(json.keys) == ["organization-name", "date-range", "contact-info", "report-id", "policies"])
        #expect(json["organization-name"] as? String == "Relay Org")
        #expect(json["contact-info"] as? String == "postmaster@relay.example")
        #expect(json["report-id"] as? String == "20261130.example.net@relay.example")
        let range = try #require(json["date-range"] as? [String: String])
        #expect(range == ["start-datetime": "2026-11-30T00:00:00Z", "end-datetime": "2026-11-30T23:59:59Z"])
    }

    @Test func policiesSummariesAndFailureDetails() throws {
        let policies = try #require(try object(Fixtures.report())["policies"] as? [[String: Any]])
        #expect(policies.count == 2)
        #expect(policies.allSatisfy { Set($0.keys) == ["policy", "summary", "failure-details"] })

        let sts = try #require(policies[0]["policy"] as? [String: Any])
        #expect(Set(sts.keys) == ["policy-type", "policy-string", "policy-domain", "mx-host"])
        #expect(sts["policy-type"] as? String == "sts")
        #expect(sts["policy-string"] as? [String] == Fixtures.stsPolicy)
        #expect(sts["policy-domain"] as? String == "example.net")
        #expect(sts["mx-host"] as? [String] == ["*.mail.example.net"])
        #expect(policies[0]["summary"] as? [String: Int]
                == ["total-successful-session-count": 2, "total-failure-session-count": 3])

        let details = try #require(policies[0]["failure-details"] as? [[String: Any]])
        #expect(details.count == 2)
        // Absent optional fields are left out, not null.
        #expect(Set(details[0].keys) == ["result-type", "sending-mta-ip", "receiving-mx-hostname", "receiving-ip",
                                         "failed-session-count"])
        #expect(details[0]["result-type"] as? String == "certificate-expired")
        #expect(details[0]["sending-mta-ip"] as? String == "198.51.100.1")
        #expect(details[0]["receiving-mx-hostname"] as? String == "mx1.mail.example.net")
        #expect(details[0]["receiving-ip"] as? String == "192.0.2.10")
        #expect(details[0]["failed-session-count"] as? Int == 2)
        #expect(details[1]["result-type"] as? String == "validation-failure")
        #expect(details[1]["receiving-ip"] as? String == "2001:db8::25")
        #expect(details[1]["failure-reason-code"] as? String == "X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION")
        #expect(details[1]["failed-session-count"] as? Int == 1)

        // No policy: empty arrays, never absent.
        let none = try #require(policies[1]["policy"] as? [String: Any])
        #expect(none["policy-type"] as? String == "no-policy-found")
        #expect(none["policy-string"] as? [String] == [])
        #expect(none["mx-host"] as? [String] == [])
        #expect((policies[1]["failure-details"] as? [Any])?.isEmpty == true)
    }

    @Test func optionalFieldsWhenPresent() throws {
        var report = Fixtures.report()
        report.policies[0].failureDetails[0].receivingMXHelo = "mx1.mail.example.net"
        report.policies[0].failureDetails[0].additionalInformation = "https://relay.example/tlsrpt/chain.pem"
        let text = String(decoding: try report.json(), as: UTF8.self)
        #expect(text.contains(#""additional-information":"https://relay.example/tlsrpt/chain.pem""#))
        #expect(text.contains(#""receiving-mx-helo":"mx1.mail.example.net""#))
    }

    /// Sorted keys: the same report always gives the same bytes.
    @Test func canonicalBytesAndRoundTrip() throws {
        let bytes = try Fixtures.report().json()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix(#"{"contact-info":"postmaster@relay.example","date-range":{"end-datetime":"#))
        #expect(text.contains(#"{"failed-session-count":2,"receiving-ip":"192.0.2.10","receiving-mx-hostname":"#))
        #expect(try Fixtures.report().json() == bytes)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode(TLSReport.self, from: Data(bytes)) == Fixtures.report())
    }

    @Test func utcDay() {
        let midnight = Date(timeIntervalSince1970: 1_795_996_800)   // 2026-11-30T00:00:00Z
        for date in [midnight, Fixtures.noon, midnight.addingTimeInterval(86_399.9)] {
            let range = TLSReport.DateRange(utcDayContaining: date)
            #expect(range.start == midnight)
            #expect(range.end == midnight.addingTimeInterval(86_399))
        }
    }

    /// RFC 8460 §4.3.
    @Test func resultTypeNames() {
        #expect(Set(TLSResultType.allCases.map(\.rawValue)) == [
            "starttls-not-supported", "certificate-host-mismatch", "certificate-expired", "certificate-not-trusted",
            "validation-failure", "tlsa-invalid", "dnssec-invalid", "dane-required", "sts-policy-fetch-error",
            "sts-policy-invalid", "sts-webpki-invalid",
        ])
    }
}
