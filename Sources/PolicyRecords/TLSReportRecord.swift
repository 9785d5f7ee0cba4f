import Foundation
import SMTPCore

/// What the `_smtp._tls.<domain>` TXT records say (RFC 8460 §3): where the domain
/// wants its TLS reports, if anywhere.
///
///     tlsrpt-record     = tlsrpt-version 1*(field-delim tlsrpt-field)
///                         [field-delim]
///     field-delim       = *WSP ";" *WSP
///     tlsrpt-field      = tlsrpt-rua /        ; Note that the
///                         tlsrpt-extension    ; tlsrpt-rua record is required.
///     tlsrpt-version    = %s"v=TLSRPTv1"
///     tlsrpt-rua        = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
///     tlsrpt-uri        = URI
///                       ; "URI" is imported from [RFC3986];
///                       ; commas (ASCII 0x2C), exclamation
///                       ; points (ASCII 0x21), and semicolons
///                       ; (ASCII 0x3B) MUST be encoded
///     tlsrpt-extension  = tlsrpt-ext-name "=" tlsrpt-ext-value
///
/// "Two URI schemes are supported: "mailto" and "https"": a URI of another scheme,
/// a mailto: that is not one mailbox, an https: with no host, is passed over; the
/// record is invalid when nothing else is left. Every rua field counts, and a
/// trailing comma in one is forgiven.
public enum TLSReportRecord: Sendable, Equatable {
    /// Where a report goes.
    public enum Destination: Sendable, Hashable {
        /// A mailto: URI's address, percent-decoded, as RCPT TO takes it.
        case mail(Mailbox)
        /// An https: URI, to POST the report to (RFC 8460 §5.3).
        case https(URL)
    }

    /// No record begins with `v=TLSRPTv1`: the domain wants no reports.
    case absent
    /// Exactly one record, well formed: its destinations, in order, each once.
    case valid([Destination])
    /// Records begin with `v=TLSRPTv1` but none can be used: there are several
    /// ("senders MUST assume the recipient domain does not implement TLSRPT"), or
    /// the one is malformed, or has no destination Veil can use. Why, for logs:
    /// ASCII, and of the record at most the name of a field.
    case invalid(String)

    /// tlsrpt-version, case-sensitive.
    public static let version = "v=TLSRPTv1"

    /// The TXT records found at `_smtp._tls.<domain>`, each one's strings joined.
    public init(txtRecords: [String]) {
        switch PolicyGrammar.select(txtRecords, version: Self.version) {
        case .absent: self = .absent
        case .invalid(let why): self = .invalid(why)
        case .fields(let fields): self = Self.record(fields)
        }
    }

    static func record(_ fields: [PolicyGrammar.Field]) -> TLSReportRecord {
        var uris: [ArraySlice<UInt8>] = []
        var sawRUA = false
        for field in fields {
            if field.name == "rua" {
                guard let list = Self.uris(field.value) else { return .invalid("rua= is not a list of URIs") }
                uris += list
                sawRUA = true
            } else if !PolicyGrammar.isExtensionValue(field.value) {
                return .invalid("\(field.name)= is empty or has a space, a control, =, ; or a non-ASCII character")
            }
        }
        guard sawRUA else { return .invalid("no rua") }
        var destinations: [Destination] = []
        for uri in uris {
            if let destination = Self.destination(uri), !destinations.contains(destination) {
                destinations.append(destination)
            }
        }
        return destinations.isEmpty ? .invalid("no mailto: or https: destination in rua") : .valid(destinations)
    }

    /// `tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)`; nil when malformed.
    static func uris(_ value: [UInt8]) -> [ArraySlice<UInt8>]? {
        let pieces = value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        var uris: [ArraySlice<UInt8>] = []
        for (index, piece) in pieces.enumerated() {
            var uri = piece
            if index > 0 { uri = uri.drop(while: PolicyGrammar.isWSP) }
            if index < pieces.count - 1 { uri = PolicyGrammar.dropTrailingWSP(uri) }
            if uri.isEmpty, index > 0, index == pieces.count - 1 { continue }
            guard isURI(uri) else { return nil }
            uris.append(uri)
        }
        return uris
    }

    /// RFC 3986 §3: `scheme ":" ...`, scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" /
    /// "." ), then only the characters a URI may hold, `%` before two hex digits,
    /// and none of the three RFC 8460 wants encoded.
    static func isURI(_ uri: ArraySlice<UInt8>) -> Bool {
        guard let first = uri.first, (0x41...0x5A).contains(first) || (0x61...0x7A).contains(first),
              let colon = uri.firstIndex(of: UInt8(ascii: ":")),
              uri[..<colon].allSatisfy({ PolicyGrammar.isAlphaDigit($0) || "+-.".utf8.contains($0) }) else { return false }
        var index = colon + 1
        while index < uri.endIndex {
            if uri[index] == UInt8(ascii: "%") {
                guard index + 2 < uri.endIndex, hex(uri[index + 1]) != nil, hex(uri[index + 2]) != nil else { return false }
                index += 3
            } else {
                guard PolicyGrammar.isAlphaDigit(uri[index]) || uriPunctuation.utf8.contains(uri[index]) else { return false }
                index += 1
            }
        }
        return true
    }

    /// RFC 3986's unreserved, gen-delims and sub-delims but `,` `!` `;`.
    static let uriPunctuation = "-._~:/?#[]@$&'()*+="

    static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    /// A well-formed URI as a destination, or nil for one Veil cannot send to.
    static func destination(_ uri: ArraySlice<UInt8>) -> Destination? {
        let colon = uri.firstIndex(of: UInt8(ascii: ":"))!
        let scheme = String(decoding: uri[..<colon], as: UTF8.self).lowercased()
        let rest = uri[(colon + 1)...]
        switch scheme {
        case "mailto": return mailAddress(rest).map(Destination.mail)
        case "https":
            // RFC 3986 §3.2: "//" authority, with a host (not empty).
            guard let url = URL(string: String(decoding: uri, as: UTF8.self)), url.host()?.isEmpty == false else { return nil }
            return .https(url)
        default: return nil
        }
    }

    /// RFC 6068 §2: `mailto:` then the address, percent-encoded, then perhaps
    /// `?header=value` fields (not for reports, left out). One address, in UTF-8,
    /// that RCPT TO would take (`MailboxParser`: no relay hacks, no address
    /// literal; an encoded comma makes two addresses, which it refuses).
    static func mailAddress(_ rest: ArraySlice<UInt8>) -> Mailbox? {
        let encoded = rest.prefix { $0 != UInt8(ascii: "?") }
        var bytes: [UInt8] = []
        var index = encoded.startIndex
        while index < encoded.endIndex {
            if encoded[index] == UInt8(ascii: "%"), index + 2 < encoded.endIndex,
               let high = hex(encoded[index + 1]), let low = hex(encoded[index + 2]) {
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(encoded[index])
                index += 1
            }
        }
        let address = String(decoding: bytes, as: UTF8.self)
        guard Array(address.utf8) == bytes else { return nil }  // not UTF-8
        return try? MailboxParser.parseMailbox(Substring(address)).get()
    }
}
