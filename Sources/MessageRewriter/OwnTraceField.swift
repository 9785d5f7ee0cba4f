/// Veil's own trace field, as it writes it (RFC 5321 §4.4, RFC 3848):
///
///     "Received: by " hostname " (Veil) with " protocol " id " queue-id "; " date CRLF
///     queue-id = 14 Crockford base32 characters
///     date     = day-name ", " 2DIGIT " " month " " 4DIGIT " " 2DIGIT ":" 2DIGIT ":" 2DIGIT " +0000"
///
/// It is kept when a message comes back through Veil, so that a loop through
/// Veil gains a hop each pass and the hop limit stops it. Only a field of exactly
/// this shape is kept: one that starts the same and goes on with anything else (a
/// host name, an address, a comment) is removed like any other trace field.
enum OwnTraceField {
    /// True when `field` (raw bytes, line end included) is one; `prefix` is
    /// `received: by hostname (veil) ` lower-cased.
    static func matches(_ field: ArraySlice<UInt8>, prefix: [UInt8]) -> Bool {
        var rest = field
        while let last = rest.last, last == 10 || last == 13 { rest = rest.dropLast() }
        guard rest.count > prefix.count, zip(rest, prefix).allSatisfy({ $0.asciiLowercased == $1 }) else { return false }
        rest = rest.dropFirst(prefix.count)
        guard take(with, from: &rest), let protocolEnd = rest.firstIndex(of: 32),
              protocols.contains(where: { rest[..<protocolEnd].elementsEqual($0) }) else { return false }
        rest = rest[protocolEnd...]
        guard take(id, from: &rest), rest.count > 14,
              rest.prefix(14).allSatisfy(queueIDAlphabet.contains) else { return false }
        rest = rest.dropFirst(14)
        return take(separator, from: &rest) && isDate(rest)
    }

    /// `Mon, 30 Nov 2026 02:20:00 +0000`, as Veil writes dates (UTC).
    private static func isDate(_ text: ArraySlice<UInt8>) -> Bool {
        let shape = Array("Aaa, 00 Aaa 0000 00:00:00 +0000".utf8)
        guard text.count == shape.count else { return false }
        return zip(text, shape).allSatisfy { byte, expected in
            switch expected {
            case UInt8(ascii: "A"): (65...90).contains(byte)
            case UInt8(ascii: "a"): (97...122).contains(byte)
            case UInt8(ascii: "0"): (48...57).contains(byte)
            default: byte == expected
            }
        }
    }

    private static func take(_ expected: [UInt8], from rest: inout ArraySlice<UInt8>) -> Bool {
        guard rest.starts(with: expected) else { return false }
        rest = rest.dropFirst(expected.count)
        return true
    }

    private static let with = Array("with ".utf8)
    private static let id = Array(" id ".utf8)
    private static let separator = Array("; ".utf8)
    private static let protocols = ["ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA"].map { Array($0.utf8) }
    private static let queueIDAlphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
}
