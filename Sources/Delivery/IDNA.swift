import CIDN2
import SMTPCore

/// The ASCII form of a mail domain for DNS: UTS #46 processing, non-transitional
/// (RFC 5891 lookup with the Unicode IDNA mapping), done by libidn2. SMTPUTF8 mail to
/// `bücher.example`, `BÜCHER.example` or the decomposed `bu\u{308}cher.example` is
/// looked up as `xn--bcher-kva.example`; `straße.de` as `xn--strae-oqa.de`.
///
/// Flags: `IDN2_NONTRANSITIONAL` (ß, ς, ZWJ and ZWNJ are kept, not mapped away as
/// IDNA2003 did) and `IDN2_NFC_INPUT` (composed and decomposed input are the same
/// name). Not `IDN2_USE_STD3_ASCII_RULES`: libidn2 (2.3.x) drops the characters that
/// rule disallows instead of refusing the name, so `a＿b.example` or `a≠.example`
/// would become `ab.example` or `a.example`, another domain. The STD3 rule is applied
/// to the result instead: it must be a host name (RFC 5321 §4.1.2), so a mapping to
/// `/`, `_`, `(` or an empty label is refused.
///
/// A name in plain ASCII with no `xn--` label is only lower-cased: it is already in
/// its ASCII form (RFC 5321 syntax is checked at RCPT), and UTS #46 CheckHyphens,
/// which libidn2 cannot turn off, would refuse names with `--` in the third and
/// fourth place (`ab--cd.example`) that DNS has and Veil always delivered to.
public enum IDNA {
    /// Why a name has no ASCII form.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// libidn2's code name (`IDN2_DISALLOWED`, `IDN2_BIDI`, `IDN2_CONTEXTJ`, ...),
        /// or `NOT_A_HOST_NAME` when the ASCII form fails RFC 5321's syntax.
        public var code: String
        /// For people: the bounce reply and the log.
        public var reason: String

        public var description: String { reason }
    }

    /// UTS #46 non-transitional, NFC input; see the type's comment for STD3.
    static let flags = Int32(bitPattern: IDN2_NONTRANSITIONAL.rawValue | IDN2_NFC_INPUT.rawValue)

    /// The ASCII form of `domain` (lower case, A-labels for internationalised labels).
    public static func toASCII(_ domain: String) throws(Failure) -> String {
        let ascii: String
        if isPlainASCII(domain) {
            ascii = String(decoding: domain.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
        } else {
            // A C string ends at the first NUL: what follows would be ignored.
            guard !domain.utf8.contains(0) else {
                throw Failure(code: "NOT_A_HOST_NAME", reason: "contains a NUL character")
            }
            var output: UnsafeMutablePointer<CChar>?
            let code = idn2_to_ascii_8z(domain, &output, flags)
            defer { idn2_free(output) }
            guard code == IDN2_OK.rawValue, let output else {
                throw Failure(code: String(cString: idn2_strerror_name(code)), reason: String(cString: idn2_strerror(code)))
            }
            ascii = String(cString: output)
        }
        guard ascii.utf8.allSatisfy({ $0 < 0x80 }), MailboxParser.isValidDomain(ArraySlice(ascii.utf8)) else {
            throw Failure(code: "NOT_A_HOST_NAME",
                          reason: "\(ascii) is not a host name (letters, digits and hyphens in labels of 1 to 63 characters)")
        }
        return ascii
    }

    /// ASCII only, and no label that claims to be an A-label (`xn--`, any case).
    static func isPlainASCII(_ domain: String) -> Bool {
        guard domain.utf8.allSatisfy({ $0 < 0x80 }) else { return false }
        return !domain.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).contains { label in
            label.count >= 4 && label.prefix(4).map { $0 | 0x20 } == Array("xn--".utf8)
        }
    }
}
