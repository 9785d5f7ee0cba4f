import NIOCore

/// A delivery status notification (RFC 3464) about some recipients of a queued
/// message, as a `multipart/report; report-type=delivery-status` message (RFC 6522)
/// from the null sender to the original sender.
public struct DeliveryStatusNotification: Sendable {
    /// One recipient's final status.
    public struct RecipientStatus: Sendable, Equatable {
        public var address: String
        public var originalRecipient: String?
        public var action: DSNAction
        /// `5.1.1`, `2.0.0`, ...
        public var status: String
        /// `[host]:port` of the server that answered, if any.
        public var remoteMTA: String?
        /// The server's reply, or Veil's reason.
        public var diagnostic: String

        public init(address: String, originalRecipient: String?, action: DSNAction, status: String,
                    remoteMTA: String?, diagnostic: String) {
            self.address = address
            self.originalRecipient = originalRecipient
            self.action = action
            self.status = status
            self.remoteMTA = remoteMTA
            self.diagnostic = diagnostic
        }
    }

    public var reportingHost: String
    public var job: DeliveryJob
    public var recipients: [RecipientStatus]
    /// RFC 5322 dates.
    public var arrivalDate: String
    public var date: String
    /// `<id@host>` for the report itself.
    public var messageID: String
    /// A unique MIME boundary.
    public var boundary: String

    public init(reportingHost: String, job: DeliveryJob, recipients: [RecipientStatus], arrivalDate: String,
                date: String, messageID: String, boundary: String) {
        self.reportingHost = reportingHost
        self.job = job
        self.recipients = recipients
        self.arrivalDate = arrivalDate
        self.date = date
        self.messageID = messageID
        self.boundary = boundary
    }

    /// RFC 3461 §4.3: `RET=FULL` asks for the whole message back; `RET=HDRS`, or no
    /// RET, for its header block.
    var returnsWholeMessage: Bool { job.ret == .full }

    /// The report up to the returned message (RFC 6522 §3): its header, the text
    /// part, the `message/delivery-status` part (RFC 3464 §2) and the header of the
    /// third part, `message/rfc822` (RET=FULL) or `text/rfc822-headers`. The queued
    /// message (or its header block) follows, then ``tail(afterLineEnd:)``: the
    /// message is copied from the spool, never held here.
    func head() -> [UInt8] {
        let failed = recipients.contains { $0.action == .failed }
        var text = """
            From: Mail Delivery System <MAILER-DAEMON@\(reportingHost)>\r
            To: <\(job.sender)>\r
            Subject: \(failed ? "Undelivered Mail Returned to Sender" : "Successful Mail Delivery Report")\r
            Date: \(date)\r
            Message-ID: \(messageID)\r
            Auto-Submitted: auto-replied\r
            MIME-Version: 1.0\r
            Content-Type: multipart/report; report-type=delivery-status;\r
            \tboundary="\(boundary)"\r
            \r
            This is a MIME-encapsulated message.\r
            \r
            --\(boundary)\r
            Content-Type: text/plain; charset=us-ascii\r
            \r
            This is the mail system at host \(reportingHost).\r
            \r

            """
        text += failed
            ? "Your message could not be delivered to one or more recipients. The mail system\r\ngave up on these addresses:\r\n\r\n"
            : "Your message was passed on to the following addresses, as you asked to be told. The next\r\nmail system does not report delivery, so this is the last notice:\r\n\r\n"
        for recipient in recipients {
            text += "<\(recipient.address)>: \(Self.asciiLine(recipient.diagnostic))\r\n"
        }
        text += "\r\n--\(boundary)\r\nContent-Type: message/delivery-status\r\n\r\n"
        // RFC 3464 §2.2: per-message fields, then one block per recipient.
        text += "Reporting-MTA: dns; \(reportingHost)\r\n"
        if let envelopeID = job.envelopeID { text += "Original-Envelope-Id: \(envelopeID)\r\n" }
        text += "Arrival-Date: \(arrivalDate)\r\n"
        for recipient in recipients {
            text += "\r\nFinal-Recipient: rfc822; \(recipient.address)\r\n"
            if let original = recipient.originalRecipient { text += "Original-Recipient: \(original)\r\n" }
            text += "Action: \(recipient.action)\r\nStatus: \(recipient.status)\r\n"
            if let remote = recipient.remoteMTA.flatMap(Self.mtaName) { text += "Remote-MTA: dns; \(remote)\r\n" }
            text += "Diagnostic-Code: smtp; \(Self.asciiLine(recipient.diagnostic))\r\n"
            text += "Last-Attempt-Date: \(date)\r\n"
        }
        text += "\r\n--\(boundary)\r\nContent-Type: \(returnsWholeMessage ? "message/rfc822" : "text/rfc822-headers")\r\n\r\n"
        return Array(text.utf8)
    }

    /// What follows the returned message: a line end when its last line had none
    /// (`afterLineEnd` false), then the closing delimiter (RFC 2046 §5.1.1).
    func tail(afterLineEnd: Bool) -> [UInt8] {
        Array(((afterLineEnd ? "" : "\r\n") + "\r\n--\(boundary)--\r\n").utf8)
    }

    /// The `Remote-MTA` value (RFC 3464 §2.3.5) of a relay as the queue runner
    /// writes it: `mx.example[192.0.2.7]:25` or `[host]:port`. The MX name is text
    /// from DNS, where a label may hold any byte (CR, LF, UTF-8, ...): it goes into
    /// the report only when it is a host name (letters, digits and hyphens in labels
    /// of 1 to 63 characters, dots between them), and is left out otherwise. Of the
    /// bracketed part only the same characters and `[`, `]`, `:` are kept. Nil when
    /// nothing is left.
    ///
    ///     mta-name = host name or address literal, 7-bit, one line (RFC 3464 §2.3.5)
    public static func mtaName(_ relay: String) -> String? {
        let open = relay.lastIndex(of: "[") ?? relay.endIndex
        let name = relay[..<open]
        let bracketed = relay[open...].unicodeScalars.filter { Self.isLDH($0) || $0 == "." || $0 == "[" || $0 == "]" || $0 == ":" }
        let text = (isHostName(name) ? String(name) : "") + String(String.UnicodeScalarView(bracketed))
        return text.isEmpty ? nil : text
    }

    /// Letters, digits and hyphens in labels of 1 to 63 characters, at most 253 in all.
    static func isHostName(_ name: Substring) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.unicodeScalars.count) && label.unicodeScalars.allSatisfy(isLDH)
        }
    }

    static func isLDH(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-": true
        default: false
        }
    }

    /// A server's text on one printable ASCII line (reports are 7-bit).
    static func asciiLine(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value >= 32 && $0.value < 127 ? Character($0) : " " }.prefix(900))
    }

    /// The enhanced status code in a reply text (`550 5.1.1 ...` gives 5.1.1), or
    /// `fallback` (5.0.0 for a refusal; 4.4.7 "delivery time expired" for mail
    /// given up after temporary failures, RFC 3463).
    public static func status(fromReply reply: String, fallback: String) -> String {
        let words = reply.split(separator: " ")
        if words.count >= 2 {
            let parts = words[1].split(separator: ".")
            if parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }),
               words[1].first == fallback.first || (fallback.first != "2" && (words[1].first == "4" || words[1].first == "5")) {
                return String(words[1])
            }
        }
        return fallback
    }
}
