/// A mailbox as given on the wire: `Local-part "@" Domain` (RFC 5321 §4.1.2).
///
/// Veil is a relay, so the domain is what matters: it is taken from the right-most
/// unquoted `@`, and everything relay hacks rely on (`%`, `!`, source routes,
/// address literals, `@@`) is refused by ``MailboxParser``.
public struct Mailbox: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The local part exactly as sent (a Dot-string, or a Quoted-string with its quotes).
    public var localPart: String
    /// The domain, lower-cased (IDNs in UTF-8 only with SMTPUTF8).
    public var domain: String

    public init(localPart: String, domain: String) {
        self.localPart = localPart
        self.domain = domain
    }

    public var description: String { "\(localPart)@\(domain)" }

    /// True when any byte is outside ASCII (RFC 6531 needs SMTPUTF8 for those).
    public var needsSMTPUTF8: Bool {
        localPart.utf8.contains { $0 >= 0x80 } || domain.utf8.contains { $0 >= 0x80 }
    }
}

/// Why an address was refused; every case is answered `553 5.1.3`.
public enum MailboxError: Error, Equatable, Sendable {
    case syntax
    case sourceRoute
    case addressLiteral
    case forbiddenCharacter
}

/// Parses paths of MAIL FROM and RCPT TO.
///
///     Path          = "<" [ A-d-l ":" ] Mailbox ">"
///     Mailbox       = Local-part "@" ( Domain / address-literal )
///     Local-part    = Dot-string / Quoted-string
///     Dot-string    = Atom *("." Atom)
///     Quoted-string = DQUOTE *QcontentSMTP DQUOTE
///     Domain        = sub-domain *("." sub-domain)
///     sub-domain    = Let-dig [Ldh-str]
///
/// UTF-8 is allowed in atoms and sub-domains (RFC 6531 §3.3); the caller checks
/// that SMTPUTF8 was given.
public enum MailboxParser {
    /// Parses the part between `<` and `>`.
    public static func parseMailbox(_ text: Substring) -> Result<Mailbox, MailboxError> {
        if text.hasPrefix("@") { return .failure(.sourceRoute) }
        let bytes = Array(text.utf8)
        // Find the right-most "@" outside a quoted string.
        var inQuotes = false
        var escaped = false
        var atIndex: Int?
        for (index, byte) in bytes.enumerated() {
            if escaped { escaped = false; continue }
            switch byte {
            case UInt8(ascii: "\\") where inQuotes: escaped = true
            case UInt8(ascii: "\""): inQuotes.toggle()
            case UInt8(ascii: "@") where !inQuotes: atIndex = index
            default: break
            }
        }
        guard !inQuotes, let atIndex else { return .failure(.syntax) }
        let local = bytes[..<atIndex]
        let domain = bytes[(atIndex + 1)...]
        if domain.first == UInt8(ascii: "[") { return .failure(.addressLiteral) }
        if local.isEmpty || local.last == UInt8(ascii: "@") { return .failure(.forbiddenCharacter) }
        // Relay hacks hide a second address in the local part, quoted or not.
        if local.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "!") || $0 == UInt8(ascii: "@") }) {
            return .failure(.forbiddenCharacter)
        }
        guard isValidLocalPart(local), isValidDomain(domain),
              let localString = String(validating: local, as: UTF8.self),
              let domainString = String(validating: domain, as: UTF8.self)
        else { return .failure(.syntax) }
        // ASCII only: Unicode lowercasing can make a label longer than the limits
        // just checked (U+0130 is 2 bytes, its lowercase 3).
        return .success(Mailbox(localPart: localString,
                                domain: String(decoding: domainString.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)))
    }

    /// `atext` of RFC 5322 §3.2.3, plus UTF-8 (RFC 6531).
    static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case 0x80...0xFF:
            return true
        default:
            return "!#$%&'*+-/=?^_`{|}~".utf8.contains(byte)
        }
    }

    static func isValidLocalPart(_ local: ArraySlice<UInt8>) -> Bool {
        if local.first == UInt8(ascii: "\"") {
            // Quoted-string: qtextSMTP = %d32-33 / %d35-91 / %d93-126, quoted-pairSMTP = "\" %d32-126
            guard local.count >= 2, local.last == UInt8(ascii: "\"") else { return false }
            var escaped = false
            for byte in local.dropFirst().dropLast() {
                if escaped {
                    guard (32...126).contains(byte) else { return false }
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") || !(32...126).contains(byte) && byte < 0x80 {
                    return false
                }
            }
            return !escaped
        }
        // Dot-string: no empty atoms, so no leading, trailing or doubled dots.
        return local.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            .allSatisfy { !$0.isEmpty && $0.allSatisfy(isAtext) }
    }

    /// RFC 5321 §4.1.2 `Domain` (labels of letters, digits and hyphens, UTF-8 bytes
    /// allowed as letters), at most 255 bytes with labels of at most 63.
    public static func isValidDomain(_ domain: ArraySlice<UInt8>) -> Bool {
        guard !domain.isEmpty, domain.count <= 255 else { return false }
        return domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).allSatisfy { label in
            guard let first = label.first, let last = label.last, label.count <= 63 else { return false }
            let isLetDig = { (byte: UInt8) in isAlphanumeric(byte) || byte >= 0x80 }
            return isLetDig(first) && isLetDig(last)
                && label.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 >= 0x80 }
        }
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return false
        }
    }
}
