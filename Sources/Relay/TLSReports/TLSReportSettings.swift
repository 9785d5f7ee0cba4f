import DKIM
import SMTPCore

/// What the TLS reports take from the configuration (`[tls_report]`, `hostname`,
/// `[[dkim]]`), read anew for each pass so that a reload applies.
struct TLSReportSettings: Sendable {
    /// `organization-name` (RFC 8460 §4.4).
    var organization: String
    /// `contact-info`.
    var contact: String
    /// From: and envelope sender of report mail.
    var from: Mailbox
    /// Veil's name: EHLO name of the envelope, kept with queued mail.
    var hostname: String
    /// The `[[dkim]]` keys, each also signing the report's own fields (§5.3).
    var keyring: Keyring

    /// `TLS-Report-Submitter` (§5.3), the report-id's right side: the From: domain.
    var submitter: String { from.domain }

    /// The fields RFC 8460 §5.3 wants signed besides the usual ones.
    static let signedFields = ["tls-report-domain", "tls-report-submitter"]

    init(organization: String, contact: String, from: Mailbox, hostname: String, keyring: Keyring) {
        self.organization = organization
        self.contact = contact
        self.from = from
        self.hostname = hostname
        self.keyring = keyring.alsoSigning(Self.signedFields)
    }

    /// Nil when reports are off (no `organization`).
    init?(_ settings: Settings) {
        let configuration = settings.configuration
        let reports = configuration.tlsReports
        // The loader fills `from` and `contact` in and checks they are mailboxes.
        guard let organization = reports.organization, let from = reports.from, let contact = reports.contact,
              case .success(let mailbox) = MailboxParser.parseMailbox(Substring(from)) else { return nil }
        self.init(organization: organization, contact: contact, from: mailbox, hostname: configuration.hostname,
                  keyring: settings.dkim)
    }
}
