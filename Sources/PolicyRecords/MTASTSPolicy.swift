import SMTPCore

/// An MTA-STS policy (RFC 8461 §3.2), as served at
/// `https://mta-sts.<domain>/.well-known/mta-sts.txt`: whether senders must
/// deliver over authenticated TLS, to which MX hosts, and how long to keep it.
///
///     sts-policy-record        = sts-policy-field *WSP
///                                *(sts-policy-term sts-policy-field *WSP)
///                                [sts-policy-term]
///     sts-policy-field         = sts-policy-version / sts-policy-mode /
///                                sts-policy-max-age / sts-policy-mx /
///                                sts-policy-extension
///     sts-policy-field-delim   = ":" *WSP
///     sts-policy-version-value = %s"STSv1"
///     sts-policy-mode-value    = %s"testing" / %s"enforce" / %s"none"
///     sts-policy-mx-value      = ["*."] Domain
///     sts-policy-max-age-value = 1*10DIGIT
///     sts-policy-ext-name      = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
///     sts-policy-term          = LF / CRLF
///
/// Read a little more loosely than the grammar: blank lines, and blanks before a
/// name or before the colon, are passed over; an mx may end with a dot. Names and
/// the version and mode values are case-sensitive, as the grammar's `%s` says.
public struct MTASTSPolicy: Sendable, Equatable {
    /// What a sender does when the policy is not met (§5).
    public enum Mode: String, Sendable {
        /// Deliver only to a listed MX, over TLS with a valid certificate.
        case enforce
        /// Deliver anyway, and report the failure (RFC 8460).
        case testing
        /// As if there were no policy (a way to withdraw one, §8.3). Beware
        /// `.none` next to an optional: say `MTASTSPolicy.Mode.none`.
        case none
    }

    /// Why a policy cannot be used: ASCII, with line numbers but none of the
    /// policy's text (for logs and TLS reports' failure-reason-code).
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    /// §3.2: max_age is "plaintext non-negative integer seconds, maximum value of
    /// 31557600" (a year). A longer one is kept for a year: refusing the policy
    /// would leave the domain unprotected for a typo in its lifetime.
    public static let maximumMaxAge = 31_557_600

    public let mode: Mode
    /// The mx patterns as published (`mail.example.com`, `*.example.net`), in order.
    public let mx: [String]
    /// Seconds, at most `maximumMaxAge`.
    public let maxAgeSeconds: Int
    /// The policy as fetched: the cache keeps this and parses it again on load.
    public let text: String

    public var maxAge: Duration { .seconds(maxAgeSeconds) }

    /// Its non-blank lines without their line ends: a TLS report's
    /// `policy-string` (RFC 8460 §4: for MTA-STS, the policy's lines as a JSON
    /// array of strings).
    public var lines: [String] {
        Self.lines(of: text).filter { !PolicyGrammar.trimWSP($0).isEmpty }.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Parses a policy; its fields may come in any order. Unknown fields are
    /// ignored, and so is every repetition of a field but mx (§3.2: of a repeated
    /// field, only the first counts).
    public init(text: String) throws(Invalid) {
        var version: String?
        var mode: Mode?
        var maxAge: Int?
        var mx: [String] = []
        for (index, line) in Self.lines(of: text).enumerated() {
            let line = PolicyGrammar.trimWSP(line)
            if line.isEmpty { continue }
            let number = index + 1
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                throw Invalid("line \(number) is not name: value")
            }
            let name = PolicyGrammar.dropTrailingWSP(line[..<colon])
            let value = PolicyGrammar.trimWSP(line[(colon + 1)...])
            guard PolicyGrammar.isExtensionName(name) else {
                throw Invalid("line \(number): the name is not 1 to 32 letters, digits, _ - .")
            }
            let string = String(decoding: value, as: UTF8.self)
            switch String(decoding: name, as: UTF8.self) {
            case "version" where version == nil:
                guard string == "STSv1" else { throw Invalid("line \(number): version is not STSv1") }
                version = string
            case "mode" where mode == nil:
                guard let value = Mode(rawValue: string) else {
                    throw Invalid("line \(number): mode is not enforce, testing or none")
                }
                mode = value
            case "max_age" where maxAge == nil:
                guard (1...10).contains(value.count), value.allSatisfy(PolicyGrammar.isDigit), let seconds = Int(string) else {
                    throw Invalid("line \(number): max_age is not 1 to 10 digits")
                }
                maxAge = min(seconds, Self.maximumMaxAge)
            case "mx":
                guard Self.isPattern(value) else {
                    throw Invalid("line \(number): mx is not a host name in A-labels, or *. and one")
                }
                mx.append(string)
            default:
                continue
            }
        }
        guard version != nil else { throw Invalid("no version") }
        guard let mode else { throw Invalid("no mode") }
        guard let maxAge else { throw Invalid("no max_age") }
        // "required at least once, except when mode is "none""
        guard mode == .none || !mx.isEmpty else { throw Invalid("mode \(mode.rawValue) and no mx") }
        self.mode = mode
        self.mx = mx
        self.maxAgeSeconds = maxAge
        self.text = text
    }

    /// RFC 8461 §4.1: whether an MX host (its name in A-labels, as the MX record
    /// gives it) is one of the policy's. ASCII case and a final dot aside, a
    /// pattern is the name itself, or `*.` and a name for any one label more:
    /// `*.example.com` matches `mx1.example.com`, not `example.com`, not
    /// `a.b.example.com`. Only the list: what a host missing from it means depends
    /// on the mode, which is the caller's to weigh.
    public func permits(mxHost: String) -> Bool {
        let host = Self.normalized(mxHost)
        guard !host.isEmpty else { return false }
        return mx.contains { Self.matches(host: host, pattern: Self.normalized($0)) }
    }

    static func matches(host: [UInt8], pattern: [UInt8]) -> Bool {
        guard pattern.starts(with: "*.".utf8) else { return host == pattern }
        let suffix = pattern.dropFirst()  // ".example.com"
        guard host.count > suffix.count, host.reversed().starts(with: suffix.reversed()) else { return false }
        return !host.dropLast(suffix.count).contains(UInt8(ascii: "."))
    }

    /// ASCII lower case, without one final dot.
    static func normalized(_ name: String) -> [UInt8] {
        var bytes = name.utf8.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        return bytes
    }

    /// sts-policy-mx-value = ["*."] Domain: RFC 5321's Domain
    /// (`MailboxParser.isValidDomain`), in A-labels (§3.2: "the "mx" value MUST
    /// specify the Punycode-encoded A-label"), with a final dot allowed.
    static func isPattern(_ value: ArraySlice<UInt8>) -> Bool {
        var name = value
        if name.starts(with: "*.".utf8) { name = name.dropFirst(2) }
        if name.last == UInt8(ascii: ".") { name = name.dropLast() }
        return name.allSatisfy { $0 < 0x80 } && MailboxParser.isValidDomain(name)
    }

    /// The lines of a policy: split at LF, a CR before it dropped (LF / CRLF).
    static func lines(of text: String) -> [ArraySlice<UInt8>] {
        Array(text.utf8).split(separator: 0x0A, omittingEmptySubsequences: false).map {
            $0.last == 0x0D ? $0.dropLast() : $0
        }
    }
}
