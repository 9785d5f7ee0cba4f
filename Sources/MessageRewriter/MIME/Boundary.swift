#if canImport(Glibc)
import Glibc
#endif

/// A multipart boundary (RFC 2046 §5.1.1) and the one that replaces it.
///
/// Exchange derives boundaries from the Message-ID (`_000_<id><server><domain>_`),
/// so they name the internal server. The replacement is `=_veil_` and the base32 of
/// a keyed hash of the old boundary: the same old boundary always gets the same new
/// one (under one key), and `=_` cannot occur in quoted-printable text.
struct Boundary {
    let old: [UInt8]
    let new: [UInt8]
    /// The nesting level of the multipart entity it belongs to (the message is 1).
    let depth: Int
    let parts: Parts
    /// Parts whose header block was read, and those of them removed (TNEF): a
    /// multipart must keep at least one part (RFC 2046 §5.1.1).
    var partsRead = 0
    var partsRemoved = 0
    var isEmptied: Bool { partsRead > 0 && partsRead == partsRemoved }

    enum Parts {
        /// Each part's header block is read (and its content followed).
        case read
        /// multipart/digest: a part without Content-Type is message/rfc822
        /// (RFC 2046 §5.1.5).
        case readAsMessages
        /// multipart/signed and multipart/encrypted (RFC 1847 §2.1, §2.2): the
        /// signed part is covered byte for byte by the signature, so the parts are
        /// left as they are; only this multipart's own delimiters change.
        case leftAlone
    }

    init(old: [UInt8], key: HMACKey, depth: Int, parts: Parts) {
        self.old = old
        self.new = Self.replacement(for: old[...], key: key)
        self.depth = depth
        self.parts = parts
    }

    /// `=_veil_` + base32 of the first 160 bits of HMAC-SHA256(key, "boundary:" + old):
    /// 39 characters, within RFC 2046's 70, all of them `bchars`.
    static func replacement(for old: ArraySlice<UInt8>, key: HMACKey) -> [UInt8] {
        let message = domain + old
        let digest = message.withUnsafeBytes { key.authenticate($0) }
        var output = prefix
        Base32.encode(Array(digest.prefix(20)), into: &output)
        return output
    }

    private static let domain = Array("boundary:".utf8)
    private static let prefix = Array("=_veil_".utf8)
}

/// A delimiter line found in the body: which active boundary it names and how the
/// line continues after the boundary.
struct Delimiter {
    /// Index into the walker's boundary stack.
    let level: Int
    /// `--boundary--`: the last part has ended (RFC 2046 §5.1.1 close-delimiter).
    let isClosing: Bool
    /// The line after `--boundary`: `--` if closing, transport padding, line end.
    let suffixStart: Int

    /// RFC 2046 §5.1.1: `"--" boundary ["--"] *LWSP-char CRLF`, a whole line; a line
    /// end may be LF alone or missing (the message's last line). The innermost
    /// boundary is tried first, then the enclosing ones (a part that never closed).
    /// A line longer than `MIMEWalker.maximumDelimiterLine` is never a delimiter,
    /// however it arrived (whole or in pieces).
    static func match(_ line: UnsafeRawBufferPointer, in boundaries: [Boundary]) -> Delimiter? {
        guard line.count >= 3, line.count <= MIMEWalker.maximumDelimiterLine,
              line[0] == UInt8(ascii: "-"), line[1] == UInt8(ascii: "-") else { return nil }
        for level in boundaries.indices.reversed() {
            let old = boundaries[level].old
            let end = 2 + old.count
            guard line.count >= end, old.withUnsafeBytes({ memcmp($0.baseAddress!, line.baseAddress! + 2, old.count) == 0 })
            else { continue }
            var index = end
            let isClosing = line.count >= end + 2 && line[end] == UInt8(ascii: "-") && line[end + 1] == UInt8(ascii: "-")
            if isClosing { index += 2 }
            while index < line.count, line[index] == UInt8(ascii: " ") || line[index] == UInt8(ascii: "\t") { index += 1 }
            if index < line.count, line[index] == UInt8(ascii: "\r") { index += 1 }
            if index < line.count, line[index] == UInt8(ascii: "\n") { index += 1 }
            if index == line.count { return Delimiter(level: level, isClosing: isClosing, suffixStart: end) }
        }
        return nil
    }
}
