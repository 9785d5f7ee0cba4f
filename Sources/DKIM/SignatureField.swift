/// A DKIM-Signature header field (RFC 6376 §3.5) as Veil writes it: the tags in a
/// fixed order, folded before 78 columns. Its length depends only on the lengths
/// of the body hash and the signature, which are known before they are computed:
/// the space it takes at the top of the spool file is kept free while the message
/// streams in, and filled when it ends.
struct SignatureField: Sendable {
    var algorithm: String
    var domain: String
    var selector: String
    /// `t=`: seconds since 1970.
    var timestamp: Int
    /// `h=`, in order; a name listed more often than its field occurs signs its
    /// absence (oversigning, §5.4.2).
    var signedHeaders: [String]
    /// Bytes of the signature, for `b=`.
    var signatureLength: Int

    /// Base64 of a SHA-256 digest.
    static let bodyHashLength = 44

    /// The field with `bh=` and `b=` given (base64), ending in CRLF.
    func rendered(bodyHash: String, signature: String) -> [UInt8] {
        Array(lines(bodyHash: bodyHash, signature: signature).utf8)
    }

    /// The same size as ``rendered(bodyHash:signature:)``, before the hashes exist.
    func placeholder() -> [UInt8] {
        rendered(bodyHash: String(repeating: "A", count: Self.bodyHashLength),
                 signature: String(repeating: "A", count: (signatureLength + 2) / 3 * 4))
    }

    /// What goes into the header hash for this field (§3.7): the field with an
    /// empty `b=`, canonicalized, without its final CRLF.
    func signedForm(bodyHash: String) -> [UInt8] {
        RelaxedHeader.canonicalize(Array(lines(bodyHash: bodyHash, signature: "").utf8)).dropLast(2)
    }

    private func lines(bodyHash: String, signature: String) -> String {
        var tokens: [(text: String, glued: Bool)] = [
            ("v=1;", false), ("a=\(algorithm);", false), ("c=relaxed/relaxed;", false), ("d=\(domain);", false),
            ("s=\(selector);", false), ("t=\(timestamp);", false),
        ]
        // h= may fold after any colon (§3.5, sig-h-tag).
        for (index, name) in signedHeaders.enumerated() {
            let text = (index == 0 ? "h=" : "") + name + (index == signedHeaders.count - 1 ? ";" : ":")
            tokens.append((text, index > 0))
        }
        tokens.append(("bh=\(bodyHash);", false))
        tokens.append(("b=", false))
        // b= may fold anywhere in its base64 (§3.5, sig-b-tag-data).
        var rest = Substring(signature)
        while !rest.isEmpty {
            tokens.append((String(rest.prefix(64)), true))
            rest = rest.dropFirst(64)
        }
        var text = "DKIM-Signature:"
        var column = text.count
        for token in tokens {
            let separator = token.glued ? "" : " "
            if column + separator.count + token.text.count > 78 {
                text += "\r\n\t" + token.text
                column = 8 + token.text.count
            } else {
                text += separator + token.text
                column += separator.count + token.text.count
            }
        }
        return text + "\r\n"
    }
}
