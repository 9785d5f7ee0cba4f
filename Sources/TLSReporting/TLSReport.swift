import Foundation

/// An SMTP TLS report (RFC 8460 §4.4): what a Sending MTA tells a Policy Domain
/// about its TLS sessions over one day, encoded as JSON with the RFC's hyphenated
/// field names.
///
///     {"organization-name": ..., "date-range": {"start-datetime": ..., "end-datetime": ...},
///      "contact-info": ..., "report-id": ...,
///      "policies": [{"policy": {...}, "summary": {...}, "failure-details": [{...}]}]}
public struct TLSReport: Codable, Sendable, Equatable {
    /// The organization responsible for the report.
    public var organizationName: String
    public var dateRange: DateRange
    /// An addr-spec (RFC 5322 §3.4.1) of whoever answers for the report.
    public var contactInfo: String
    /// Unique per report; any scheme. The mail's Subject carries it as a msg-id
    /// (§5.3), so give it the shape `id-left@id-right`: `20261130.example.net@relay.example`.
    public var reportID: String
    public var policies: [PolicyResult]

    public init(organizationName: String, dateRange: DateRange, contactInfo: String, reportID: String,
                policies: [PolicyResult]) {
        self.organizationName = organizationName
        self.dateRange = dateRange
        self.contactInfo = contactInfo
        self.reportID = reportID
        self.policies = policies
    }

    /// The report's time range: RFC 3339 date-times in UTC (§4.4); a report should
    /// cover one whole UTC day (§4.1).
    public struct DateRange: Codable, Sendable, Equatable {
        public var start: Date
        public var end: Date

        public init(start: Date, end: Date) {
            self.start = start
            self.end = end
        }

        /// The UTC day holding `date`, from 00:00:00Z to 23:59:59Z as in the
        /// example report of RFC 8460 Appendix B.
        public init(utcDayContaining date: Date) {
            let midnight = (date.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400
            self.init(start: Date(timeIntervalSince1970: midnight), end: Date(timeIntervalSince1970: midnight + 86_399))
        }

        enum CodingKeys: String, CodingKey {
            case start = "start-datetime"
            case end = "end-datetime"
        }
    }

    /// The `policy-type` (§4.4).
    public enum PolicyType: String, Codable, Sendable {
        /// DANE (RFC 7672): the Policy Domain is the MX host the TLSA records are for.
        case tlsa
        /// MTA-STS (RFC 8461): the Policy Domain is the recipient domain.
        case sts
        /// Neither a TLSA record nor an MTA-STS policy was found.
        case noPolicyFound = "no-policy-found"
    }

    /// One applied policy, its session counts and its failures.
    public struct PolicyResult: Codable, Sendable, Equatable {
        public var policy: Policy
        public var summary: Summary
        /// Empty when every session succeeded; always present in the JSON.
        public var failureDetails: [FailureDetails]

        public init(policy: Policy, summary: Summary, failureDetails: [FailureDetails]) {
            self.policy = policy
            self.summary = summary
            self.failureDetails = failureDetails
        }

        enum CodingKeys: String, CodingKey {
            case policy, summary
            case failureDetails = "failure-details"
        }
    }

    public struct Policy: Codable, Sendable, Equatable {
        public var policyType: PolicyType
        /// The policy as a JSON array of strings (§4.4, samples in §4.5): each TLSA
        /// record's data (`3 1 1 1F85...`), or each line of the MTA-STS policy
        /// (`version: STSv1`, `mode: enforce`, ...); empty for `no-policy-found`.
        public var policyStrings: [String]
        /// In A-labels (RFC 5891), never U-labels (§4.4).
        public var policyDomain: String
        /// For `sts`, the policy's `mx` patterns (RFC 8461 §4.1); a JSON array
        /// (the example of §4.4 shows a string: erratum 6241 corrects it).
        public var mxHosts: [String]

        public init(policyType: PolicyType, policyStrings: [String], policyDomain: String, mxHosts: [String]) {
            self.policyType = policyType
            self.policyStrings = policyStrings
            self.policyDomain = policyDomain
            self.mxHosts = mxHosts
        }

        enum CodingKeys: String, CodingKey {
            case policyType = "policy-type"
            case policyStrings = "policy-string"
            case policyDomain = "policy-domain"
            case mxHosts = "mx-host"
        }
    }

    /// Sessions that set up TLS as the policy asked, and sessions that did not (§4.2).
    public struct Summary: Codable, Sendable, Equatable {
        public var totalSuccessfulSessionCount: Int
        public var totalFailureSessionCount: Int

        public init(totalSuccessfulSessionCount: Int, totalFailureSessionCount: Int) {
            self.totalSuccessfulSessionCount = totalSuccessfulSessionCount
            self.totalFailureSessionCount = totalFailureSessionCount
        }

        enum CodingKeys: String, CodingKey {
            case totalSuccessfulSessionCount = "total-successful-session-count"
            case totalFailureSessionCount = "total-failure-session-count"
        }
    }

    /// The sessions that failed the same way between the same two hosts (§4.4).
    public struct FailureDetails: Codable, Sendable, Equatable {
        public var resultType: TLSResultType
        /// Veil's address for the session (IPv4 dotted, IPv6 as RFC 5952).
        public var sendingMTAIP: String
        /// The MX host name the session was for.
        public var receivingMXHostname: String
        /// The name in the server's greeting or EHLO reply.
        public var receivingMXHelo: String?
        /// The MX host's address Veil connected to.
        public var receivingIP: String
        public var failedSessionCount: Int
        /// A URI with more about the failure.
        public var additionalInformation: String?
        /// A TLS error code or message, for `certificate-not-trusted` and
        /// `validation-failure` above all (§4.3.1, §4.3.3).
        public var failureReasonCode: String?

        public init(resultType: TLSResultType, sendingMTAIP: String, receivingMXHostname: String,
                    receivingMXHelo: String? = nil, receivingIP: String, failedSessionCount: Int,
                    additionalInformation: String? = nil, failureReasonCode: String? = nil) {
            self.resultType = resultType
            self.sendingMTAIP = sendingMTAIP
            self.receivingMXHostname = receivingMXHostname
            self.receivingMXHelo = receivingMXHelo
            self.receivingIP = receivingIP
            self.failedSessionCount = failedSessionCount
            self.additionalInformation = additionalInformation
            self.failureReasonCode = failureReasonCode
        }

        /// An address left empty is not written: a failure found before any
        /// connection (an MX host the policy rules out, a bogus TLSA answer) has no
        /// sending address, and §4.4 has no value for "none".
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(resultType, forKey: .resultType)
            if !sendingMTAIP.isEmpty { try container.encode(sendingMTAIP, forKey: .sendingMTAIP) }
            try container.encode(receivingMXHostname, forKey: .receivingMXHostname)
            try container.encodeIfPresent(receivingMXHelo, forKey: .receivingMXHelo)
            if !receivingIP.isEmpty { try container.encode(receivingIP, forKey: .receivingIP) }
            try container.encode(failedSessionCount, forKey: .failedSessionCount)
            try container.encodeIfPresent(additionalInformation, forKey: .additionalInformation)
            try container.encodeIfPresent(failureReasonCode, forKey: .failureReasonCode)
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            resultType = try container.decode(TLSResultType.self, forKey: .resultType)
            sendingMTAIP = try container.decodeIfPresent(String.self, forKey: .sendingMTAIP) ?? ""
            receivingMXHostname = try container.decode(String.self, forKey: .receivingMXHostname)
            receivingMXHelo = try container.decodeIfPresent(String.self, forKey: .receivingMXHelo)
            receivingIP = try container.decodeIfPresent(String.self, forKey: .receivingIP) ?? ""
            failedSessionCount = try container.decode(Int.self, forKey: .failedSessionCount)
            additionalInformation = try container.decodeIfPresent(String.self, forKey: .additionalInformation)
            failureReasonCode = try container.decodeIfPresent(String.self, forKey: .failureReasonCode)
        }

        enum CodingKeys: String, CodingKey {
            case resultType = "result-type"
            case sendingMTAIP = "sending-mta-ip"
            case receivingMXHostname = "receiving-mx-hostname"
            case receivingMXHelo = "receiving-mx-helo"
            case receivingIP = "receiving-ip"
            case failedSessionCount = "failed-session-count"
            case additionalInformation = "additional-information"
            case failureReasonCode = "failure-reason-code"
        }
    }

    enum CodingKeys: String, CodingKey {
        case organizationName = "organization-name"
        case dateRange = "date-range"
        case contactInfo = "contact-info"
        case reportID = "report-id"
        case policies
    }

    /// The media type of the gzip-compressed report, for the mail part (§5.3) and
    /// the HTTPS POST (§5.4); registered in §6.
    public static let gzipMediaType = "application/tlsrpt+gzip"

    /// The report as JSON: keys sorted, absent optional fields left out, dates as
    /// RFC 3339 UTC (`2026-11-30T00:00:00Z`).
    public func json() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return Array(try encoder.encode(self))
    }

    /// The report as it is sent (§5.2: gzip for mail and HTTPS alike). An https:
    /// `rua` gets these bytes as the body of a POST with Content-Type
    /// ``gzipMediaType`` (§5.4); a mailto: one gets them in ``TLSReportMail``.
    public func gzippedJSON() throws -> [UInt8] {
        try Gzip.compress(try json())
    }
}
