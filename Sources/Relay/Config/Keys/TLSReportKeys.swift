import SMTPCore

/// `[tls_report]`: daily SMTP TLS reports (RFC 8460) to the policy domains that
/// ask for them (docs/delivery.md).
extension Configuration.TLSReports: ConfigSection {
    static let keys: [ConfigKey<Configuration.TLSReports>] = [
        .string("organization", \.organization,
                doc: "organization-name of the reports; empty: no TLS reports, and no sessions counted.",
                check: { $0.unicodeScalars.contains { $0.properties.generalCategory == .control } ? "must be one line of text" : nil }),
        .string("contact", \.contact, doc: "contact-info of the reports (an address); default from.", check: addressProblem),
        .string("from", \.from, doc: "From: and envelope sender of report mail; default postmaster@hostname.", check: addressProblem),
    ]

    /// A report's addresses go in header fields and the JSON as they are: an ASCII
    /// mailbox that MAIL FROM would take (RFC 5321 §4.1.2).
    @Sendable static func addressProblem(_ text: String) -> String? {
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }),
              case .success = MailboxParser.parseMailbox(Substring(text)) else {
            return "\"\(text)\" is not a mail address such as postmaster@relay.example (ASCII, no display name)"
        }
        return nil
    }
}
