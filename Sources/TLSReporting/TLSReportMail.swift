import Foundation

/// A TLS report as a mail to a `mailto:` address of the TLSRPT record (RFC 8460
/// §5.3): `multipart/report; report-type="tlsrpt"` (RFC 6522) with a short text
/// part and the gzipped report (§5.2) as `application/tlsrpt+gzip`, base64.
///
/// What the sender of the mail must still do (§5.3): sign it with DKIM for the
/// submitter's domain, without `l=`, covering `TLS-Report-Domain` and
/// `TLS-Report-Submitter`; deliver it even when TLS to the reporting address
/// fails, which `TLS-Required: No` (RFC 8689 §5) asks of every MTA on the way;
/// and leave that delivery's session out of the next report.
///
/// Every name here (domains, addresses, ids) is ASCII without spaces, quotes or
/// line breaks: domains in A-labels (§4.4).
public struct TLSReportMail: Sendable {
    public var report: TLSReport
    /// The Policy Domain the report is about: `TLS-Report-Domain`, the Subject's
    /// first domain and the file name's `policy-domain`.
    public var policyDomain: String
    /// The Sending MTA's domain: `TLS-Report-Submitter`, the Subject's second domain
    /// and the file name's first field (§5.1 calls it `sender`); also the domain of
    /// `contact-info` and of the DKIM signature.
    public var submitter: String
    /// The whole From: value, `addr-spec` or `display-name <addr-spec>`.
    public var from: String
    /// The reporting address, from the `rua` `mailto:` URI.
    public var to: String
    /// An RFC 5322 date-time.
    public var date: String
    /// `<id@host>`.
    public var messageID: String
    /// The file name's optional `unique-id` (§5.1): letters and digits, telling
    /// apart reports made at once by different sources for one Policy Domain.
    public var uniqueID: String?

    /// `messageID` nil: `<tlsrpt.POLICY-DOMAIN.BEGIN[.UNIQUE]@SUBMITTER>`, the same
    /// for every address the report goes to and for each retry.
    public init(report: TLSReport, policyDomain: String, submitter: String, from: String, to: String, date: String,
                messageID: String? = nil, uniqueID: String? = nil) {
        self.report = report
        self.policyDomain = policyDomain
        self.submitter = submitter
        self.from = from
        self.to = to
        self.date = date
        self.uniqueID = uniqueID
        let begin = Int(report.dateRange.start.timeIntervalSince1970)
        self.messageID = messageID ?? "<tlsrpt.\(policyDomain).\(begin)\(uniqueID.map { ".\($0)" } ?? "")@\(submitter)>"
    }

    /// The MIME boundary. `=_` appears neither in base64 nor in the text part
    /// (RFC 2045 §6.7 suggests it for that reason), so one fixed boundary does.
    static let boundary = "=_tlsrpt"
    /// Base64 lines of at most 76 characters (RFC 2045 §6.8).
    static let base64LineLength = 76

    /// The Subject (§5.3), folded before `Submitter:` and `Report-ID:` as in the
    /// RFC's example:
    ///
    ///     tlsrpt-subject = %s"Report" FWS %s"Domain:" FWS domain-name FWS
    ///                      %s"Submitter:" FWS domain-name FWS
    ///                      %s"Report-ID:" FWS "<" id-left "@" id-right ">" [CFWS]
    var subject: String {
        "Report Domain: \(policyDomain)\r\n Submitter: \(submitter)\r\n Report-ID: <\(report.reportID)>"
    }

    /// The attachment's name (§5.1), `.json.gz` as the report is compressed:
    ///
    ///     filename = sender "!" policy-domain "!" begin-timestamp
    ///                "!" end-timestamp [ "!" unique-id ] "." extension
    ///     begin-timestamp, end-timestamp = seconds since 1970-01-01T00:00:00Z
    ///     extension = "json" / "json.gz"
    public var filename: String {
        let begin = Int(report.dateRange.start.timeIntervalSince1970)
        let end = Int(report.dateRange.end.timeIntervalSince1970)
        return "\(submitter)!\(policyDomain)!\(begin)!\(end)\(uniqueID.map { "!\($0)" } ?? "").json.gz"
    }

    /// The whole message, CRLF line ends, 7-bit.
    public func message() throws -> [UInt8] {
        let dates = ISO8601DateFormatter()
        var text = """
            From: \(from)\r
            To: <\(to)>\r
            Subject: \(subject)\r
            Date: \(date)\r
            Message-ID: \(messageID)\r
            TLS-Report-Domain: \(policyDomain)\r
            TLS-Report-Submitter: \(submitter)\r
            TLS-Required: No\r
            Auto-Submitted: auto-generated\r
            MIME-Version: 1.0\r
            Content-Type: multipart/report; report-type="tlsrpt";\r
            \tboundary="\(Self.boundary)"\r
            \r
            This is a MIME-encapsulated message.\r
            \r
            --\(Self.boundary)\r
            Content-Type: text/plain; charset=us-ascii\r
            Content-Transfer-Encoding: 7bit\r
            \r
            This is an aggregate TLS report (RFC 8460) from \(submitter)\r
            about \(policyDomain), for \(dates.string(from: report.dateRange.start)) to \(dates.string(from: report.dateRange.end)).\r
            \r
            --\(Self.boundary)\r
            Content-Type: \(TLSReport.gzipMediaType);\r
            \tname="\(filename)"\r
            Content-Transfer-Encoding: base64\r
            Content-Disposition: attachment;\r
            \tfilename="\(filename)"\r
            \r

            """
        let encoded = Data(try report.gzippedJSON()).base64EncodedString()
        var lineStart = encoded.startIndex
        while lineStart < encoded.endIndex {
            let lineEnd = encoded.index(lineStart, offsetBy: Self.base64LineLength, limitedBy: encoded.endIndex) ?? encoded.endIndex
            text += encoded[lineStart..<lineEnd] + "\r\n"
            lineStart = lineEnd
        }
        text += "--\(Self.boundary)--\r\n"
        return Array(text.utf8)
    }
}
