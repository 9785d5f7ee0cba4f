import Foundation
import Testing
import TLSReporting

/// The report mail of RFC 8460 §5.3.
@Suite struct TLSReportMailTests {
    func mail(messageID: String? = nil, uniqueID: String? = "1") -> TLSReportMail {
        TLSReportMail(report: Fixtures.report(), policyDomain: "example.net", submitter: "relay.example",
                      from: "TLS reports <tlsrpt@relay.example>", to: "tlsrpt@example.net",
                      date: "Mon, 30 Nov 2026 01:00:00 +0000", messageID: messageID, uniqueID: uniqueID)
    }

    func text(_ mail: TLSReportMail) throws -> String {
        String(decoding: try mail.message(), as: UTF8.self)
    }

    /// The header fields, unfolded (RFC 5322 §2.2.3), by name.
    func headerFields(_ text: String) throws -> [String: String] {
        let header = try #require(text.components(separatedBy: "\r\n\r\n").first)
        let unfolded = header.replacingOccurrences(of: "\r\n ", with: " ").replacingOccurrences(of: "\r\n\t", with: " ")
        var fields: [String: String] = [:]
        for line in unfolded.components(separatedBy: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    @Test func headerFields() throws {
        let fields = try headerFields(try text(mail()))
        #expect(fields["From"] == "TLS reports <tlsrpt@relay.example>")
        #expect(fields["To"] == "<tlsrpt@example.net>")
        #expect(fields["Subject"] == "Report Domain: example.net Submitter: relay.example Report-ID: <20261130.example.net@relay.example>")
        #expect(fields["Date"] == "Mon, 30 Nov 2026 01:00:00 +0000")
        #expect(fields["Message-ID"] == "<tlsrpt.example.net.1795996800.1@relay.example>")
        #expect(fields["TLS-Report-Domain"] == "example.net")
        #expect(fields["TLS-Report-Submitter"] == "relay.example")
        #expect(fields["TLS-Required"] == "No")
        #expect(fields["MIME-Version"] == "1.0")
        #expect(fields["Content-Type"] == #"multipart/report; report-type="tlsrpt"; boundary="=_tlsrpt""#)
    }

    @Test func messageIDGivenOrMadeFromTheReport() throws {
        #expect(try headerFields(try text(mail(messageID: "<r1@relay.example>")))["Message-ID"] == "<r1@relay.example>")
        #expect(try headerFields(try text(mail(uniqueID: nil)))["Message-ID"] == "<tlsrpt.example.net.1795996800@relay.example>")
    }

    /// §5.1: sender!policy-domain!begin!end[!unique-id].json.gz, the day's first and last second.
    @Test func filename() {
        #expect(mail().filename == "relay.example!example.net!1795996800!1796083199!1.json.gz")
        #expect(mail(uniqueID: nil).filename == "relay.example!example.net!1795996800!1796083199.json.gz")
    }

    @Test func reportPartDecodesToTheGzippedReport() throws {
        let text = try text(mail())
        let parts = text.components(separatedBy: "\r\n--=_tlsrpt")
        try #require(parts.count == 4)   // header and preamble, text, report, "--"
        #expect(parts[3] == "--\r\n")
        #expect(parts[1].hasPrefix("\r\nContent-Type: text/plain; charset=us-ascii\r\n"))
        let report = parts[2].components(separatedBy: "\r\n\r\n")
        try #require(report.count == 2)
        #expect(report[0] == """
            \r
            Content-Type: application/tlsrpt+gzip;\r
            \tname="relay.example!example.net!1795996800!1796083199!1.json.gz"\r
            Content-Transfer-Encoding: base64\r
            Content-Disposition: attachment;\r
            \tfilename="relay.example!example.net!1795996800!1796083199!1.json.gz"
            """)
        let lines = report[1].components(separatedBy: "\r\n")
        #expect(lines.dropLast().allSatisfy { $0.count == 76 })
        #expect((1...76).contains(lines.last?.count ?? 0))
        let gzip = try #require(Data(base64Encoded: lines.joined()))
        #expect(Array(gzip) == (try Fixtures.report().gzippedJSON()))
        #expect(inflate(Array(gzip)) == (try Fixtures.report().json()))
    }

    /// CRLF only, 7-bit, no line over 78 characters.
    @Test func lines() throws {
        let bytes = try mail().message()
        #expect(!bytes.contains { $0 >= 0x80 || $0 == 0 })
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasSuffix("\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains { $0 == "\r" || $0 == "\n" })
        #expect(text.components(separatedBy: "\r\n").allSatisfy { $0.count <= 78 })
    }
}
