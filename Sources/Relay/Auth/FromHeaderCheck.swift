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
            let domains = addressDomains(in: field)
            return !domains.isEmpty && domains.allSatisfy(user.mayUse(domain:))
        }
    }

    /// The domains of the addresses in a From field: `a@b`, `Name <a@b>`, lists
    /// separated by commas. Quoted strings and comments are skipped.
    static func addressDomains(in field: [UInt8]) -> [String] {
        guard let colon = field.firstIndex(of: UInt8(ascii: ":")) else { return [] }
        var domains: [String] = []
        var current: [UInt8] = []
        var inQuotes = false
        var commentDepth = 0
        var escaped = false
        func finishAddress() {
            // In `Name <addr>` the address is inside the brackets.
            var address = current[...]
            if let open = address.lastIndex(of: UInt8(ascii: "<")) {
                address = address[(open + 1)...]
                if let close = address.firstIndex(of: UInt8(ascii: ">")) { address = address[..<close] }
            }
            if let at = address.lastIndex(of: UInt8(ascii: "@")) {
                let domain = address[(at + 1)...].filter { $0 > 32 && $0 != UInt8(ascii: ">") }
                if !domain.isEmpty { domains.append(String(decoding: domain, as: UTF8.self).lowercased()) }
            }
            current = []
        }
        for byte in field[(colon + 1)...] {
            if escaped { escaped = false; continue }
            switch byte {
            case UInt8(ascii: "\\") where inQuotes || commentDepth > 0: escaped = true
            case UInt8(ascii: "\"") where commentDepth == 0: inQuotes.toggle()
            case UInt8(ascii: "(") where !inQuotes: commentDepth += 1
            case UInt8(ascii: ")") where !inQuotes && commentDepth > 0: commentDepth -= 1
            case UInt8(ascii: ",") where !inQuotes && commentDepth == 0: finishAddress()
            default:
                if !inQuotes && commentDepth == 0 { current.append(byte) }
            }
        }
        finishAddress()
        return domains
    }
}
