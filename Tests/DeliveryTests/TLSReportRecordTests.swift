import Foundation
import SMTPCore
import Testing
@testable import PolicyRecords

/// The `_smtp._tls` TXT record (RFC 8460 §3): where TLS reports go.
@Suite struct TLSReportRecordTests {
    static func record(_ texts: String...) -> TLSReportRecord { TLSReportRecord(txtRecords: texts) }

    static func destinations(_ text: String) -> [TLSReportRecord.Destination]? {
        if case .valid(let destinations) = TLSReportRecord(txtRecords: [text]) { return destinations }
        return nil
    }

    static func isInvalid(_ record: TLSReportRecord) -> Bool {
        if case .invalid = record { return true }
        return false
    }

    static func https(_ url: String) -> TLSReportRecord.Destination { .https(URL(string: url)!) }

    static func mail(_ localPart: String, _ domain: String) -> TLSReportRecord.Destination {
        .mail(Mailbox(localPart: localPart, domain: domain))
    }

    @Test func theRFCExamples() {
        #expect(Self.record("v=TLSRPTv1;rua=mailto:reports@example.com") == .valid([Self.mail("reports", "example.com")]))
        #expect(Self.record("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt")
            == .valid([Self.https("https://reporting.example.com/v1/tlsrpt")]))
    }

    @Test func severalDestinations() {
        #expect(Self.destinations("v=TLSRPTv1; rua=mailto:a@example.com , https://r.example.com/x?y=1&z=2,mailto:b@example.net;")
            == [Self.mail("a", "example.com"), Self.https("https://r.example.com/x?y=1&z=2"), Self.mail("b", "example.net")])
        // Every rua field counts; each destination once; a trailing comma forgiven.
        #expect(Self.destinations("v=TLSRPTv1; rua=mailto:a@example.com; ext=1; rua=mailto:a@example.com,mailto:c@example.com,")
            == [Self.mail("a", "example.com"), Self.mail("c", "example.com")])
    }

    @Test func mailtoIsPercentDecoded() {
        #expect(Self.destinations("v=TLSRPTv1; rua=mailto:tls%2Breports@example.com") == [Self.mail("tls+reports", "example.com")])
        #expect(Self.destinations("v=TLSRPTv1; rua=MAILTO:a%40b@example.com") == nil)  // two @
        #expect(Self.destinations("v=TLSRPTv1; rua=mailto:r@xn--bcher-kva.example?subject=TLS%20report")
            == [Self.mail("r", "xn--bcher-kva.example")])
        #expect(Self.destinations("v=TLSRPTv1; rua=mailto:r@b%C3%BCcher.example") == [Self.mail("r", "bücher.example")])
        // As RCPT TO takes it: the domain in lower case; a quoted local part.
        #expect(Self.destinations("v=TLSRPTv1; rua=mailto:TLS@Example.COM") == [Self.mail("TLS", "example.com")])
        #expect(Self.destinations("v=TLSRPTv1; rua=mailto:%22tls%20reports%22@example.com") == [Self.mail("\"tls reports\"", "example.com")])
        // Encoded separators, blanks and controls would make another address, or a broken one.
        for bad in ["a%2Cb@example.com", "a@example.com%2Cb@example.com", "a%3Bb@example.com", "a%20b@example.com",
                    "a%0D%0ARCPT@example.com", "%3Ca@example.com%3E", "a@example..com", "a@", "@example.com",
                    "example.com", "", "a@example.com.", "r@%FF.example", "a%25b@example.com", "a@[192.0.2.1]",
                    "a@" + String(repeating: "x", count: 64) + ".example"] {
            #expect(Self.destinations("v=TLSRPTv1; rua=mailto:\(bad)") == nil, "\(bad)")
        }
    }

    @Test func httpsNeedsAHost() {
        #expect(Self.destinations("v=TLSRPTv1; rua=https://[2001:db8::1]:8443/r") == [Self.https("https://[2001:db8::1]:8443/r")])
        #expect(Self.destinations("v=TLSRPTv1; rua=HTTPS://r.example.com") == [Self.https("HTTPS://r.example.com")])
        for bad in ["https:/r.example.com/x", "https:///x", "https://:443/x", "https://user@/x", "https://[]/x", "https:r.example.com"] {
            #expect(Self.destinations("v=TLSRPTv1; rua=\(bad)") == nil, "\(bad)")
        }
    }

    @Test func otherSchemesArePassedOver() {
        #expect(Self.destinations("v=TLSRPTv1; rua=http://r.example.com/,ftp://r.example.com/,mailto:a@example.com") == [Self.mail("a", "example.com")])
        #expect(Self.record("v=TLSRPTv1; rua=http://r.example.com/") == .invalid("no mailto: or https: destination in rua"))
    }

    @Test func noRecordIsNoReports() {
        #expect(TLSReportRecord(txtRecords: []) == .absent)
        #expect(Self.record("v=spf1 -all", "v=STSv1; id=1") == .absent)
        #expect(Self.record("v=TLSRPTv10; rua=mailto:a@example.com") == .absent)
        #expect(Self.record("v=tlsrptv1; rua=mailto:a@example.com") == .absent)
        #expect(Self.record("rua=mailto:a@example.com; v=TLSRPTv1") == .absent)
    }

    @Test func twoRecordsAreInvalid() {
        #expect(Self.record("v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com")
            == .invalid("2 records begin with v=TLSRPTv1"))
        #expect(Self.record("v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com") == .valid([Self.mail("a", "example.com")]))
    }

    @Test func aBrokenRecordIsInvalid() {
        #expect(Self.record("v=TLSRPTv1; ext=1") == .invalid("no rua"))
        #expect(Self.record("v=TLSRPTv1;") == .invalid("no field after v=TLSRPTv1"))
        for text in [
            "v=TLSRPTv1", "v=TLSRPTv1 ", "v=TLSRPTv1; rua=", "v=TLSRPTv1; rua= mailto:a@example.com",
            "v=TLSRPTv1; rua=mailto:a@example.com ", "v=TLSRPTv1; rua=mailto:a@example.com,,mailto:b@example.com",
            "v=TLSRPTv1; rua=mailto:a!b@example.com", "v=TLSRPTv1; rua=mailto:a@example.com%2", "v=TLSRPTv1; rua=mailto:a@example.com%zz",
            "v=TLSRPTv1; rua=a@example.com", "v=TLSRPTv1; rua=1mailto:a@example.com", "v=TLSRPTv1; rua=mailto:a@exämple.com",
            "v=TLSRPTv1; rua=https://r.example.com/a b", "v=TLSRPTv1; rua=https://r.example.com/<x>",
            "v=TLSRPTv1; rua=mailto:a@example.com; ext", "v=TLSRPTv1; rua=mailto:a@example.com; ext=", "v=TLSRPTv1;; rua=mailto:a@example.com",
        ] {
            #expect(Self.isInvalid(Self.record(text)), "\(text)")
        }
    }
}
