import DKIM
import Foundation
import MailQueue
import SMTPCore
import TLSReporting

extension TLSReportSettings {
    /// The report as a mail to `to` (RFC 8460 §5.3): ``TLSReportMail`` signed with
    /// the From: domain's `[[dkim]]` keys (when there are any), and its envelope:
    /// from `from`, which RFC 5321 §4.5.5 wants non-null for all but delivery
    /// notices, with NOTIFY=NEVER (RFC 3461), so that a report that cannot be
    /// delivered is dropped without a bounce from Veil or a next hop.
    func mail(_ report: TLSReport, policyDomain: String, to: Mailbox, uniqueID: String,
              now: Date) throws -> (text: [UInt8], envelope: Envelope) {
        let mail = TLSReportMail(report: report, policyDomain: policyDomain, submitter: submitter, from: from.description,
                                 to: to.description, date: Timestamp.rfc5322(now), uniqueID: uniqueID)
        let text = try keyring.sign(try mail.message(), now: now)
        var envelope = Envelope(sender: .mailbox(from), parameters: MailParameters(), clientName: hostname,
                                authenticatedUser: nil, protocolName: "ESMTP")
        var parameters = RecipientParameters()
        parameters.notify = Notify("NEVER")
        envelope.recipients = [Recipient(mailbox: to, parameters: parameters)]
        return (text, envelope)
    }
}
