import MessageRewriter
import SMTPCore

/// The From: header check (docs/security.md, "Sender domains per user"): a user
/// limited to some sender domains may use only those in the From field too (550
/// 5.7.1), not just in MAIL FROM, so a restricted account cannot put someone else's
/// address in front of recipients.
/// Sender, Resent-From and Resent-Sender (RFC 5322 §3.6.2, §3.6.6) name a sender
/// as well and are checked the same way.
enum FromHeaderCheck {
    static let refusal = SMTPReply(550, "5.7.1", "Error: From/Sender header address not allowed for this user")

    /// True when every address of every field (raw bytes, name included) has a
    /// domain `user` may use. A message without these fields passes (RFC 5322 §3.6
    /// makes From required, but refusing it is not this check's business).
    static func allows(_ fields: [[UInt8]], for user: AuthenticatedUser) -> Bool {
        guard user.allowedDomains != nil else { return true }
        return fields.allSatisfy { field in
            let domains = AddressField.domains(in: field)
            return !domains.isEmpty && domains.allSatisfy(user.mayUse(domain:))
        }
    }
}
