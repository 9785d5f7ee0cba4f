/// What the MIME walker needs from a Content-Type field (RFC 2045 §5.1), read from
/// its raw bytes, folding and comments included:
///
///     content   = "Content-Type" ":" type "/" subtype *(";" parameter)
///     parameter = attribute "=" value
///     value     = token / quoted-string
///
/// Every `boundary` parameter's value is located in the raw bytes so that it can be
/// replaced without touching anything else of the field.
struct ContentTypeField {
    /// `type/subtype`, lower-cased; nil when the field has no readable media type
    /// (RFC 2045 §5.2: then it is text/plain).
    var mediaType: [UInt8]?
    /// Every `boundary` parameter: where its value (with its quotes) stands in the
    /// field's bytes, and the value unquoted, trailing spaces removed (as MIME
    /// parsers read it). Empty values are not boundaries.
    var boundaryParameters: [(range: Range<Int>, value: [UInt8])] = []

    /// The `name` parameter (RFC 2046 §4.5.1, the file name Outlook writes), if any.
    var name: [UInt8]?

    /// The boundary the multipart uses: the first parameter's (as parsers take it).
    var boundary: [UInt8]? { boundaryParameters.first?.value }

    /// Parses the field `field` (name, colon and value, as they stood). The line end
    /// that ends the field is not part of any value (an unterminated quoted string
    /// stops before it).
    init(field: ArraySlice<UInt8>) {
        var bytes = field
        if bytes.last == UInt8(ascii: "\n") { bytes = bytes.dropLast() }
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        var scanner = Scanner(bytes: bytes, index: (bytes.firstIndex(of: UInt8(ascii: ":")) ?? bytes.endIndex))
        if scanner.index < bytes.endIndex { scanner.index += 1 }
        scanner.skipSpaceAndComments()
        let type = scanner.token()
        scanner.skipSpaceAndComments()
        if !type.isEmpty, scanner.take(UInt8(ascii: "/")) {
            scanner.skipSpaceAndComments()
            let subtype = scanner.token()
            if !subtype.isEmpty {
                mediaType = type.asciiLowercased() + [UInt8(ascii: "/")] + subtype.asciiLowercased()
            }
        }
        while let (attribute, value, range) = scanner.nextParameter() {
            if attribute == Self.nameName && name == nil { name = value }
            guard attribute == Self.boundaryName, !range.isEmpty else { continue }
            let trimmed = Self.trimmed(value[...])
            // RFC 2046 allows 70 characters; a delimiter line must stay within what
            // the walker reads as one (MIMEWalker.maximumDelimiterLine).
            guard !trimmed.isEmpty, trimmed.count <= Self.maximumBoundaryLength else { continue }
            boundaryParameters.append((range, Array(trimmed)))
        }
    }

    /// A boundary value without trailing spaces: RFC 2046 §5.1.1 does not let a
    /// boundary end in a space, and parsers drop them.
    private static func trimmed(_ value: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var value = value
        while let last = value.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { value = value.dropLast() }
        return value
    }

    var isMultipart: Bool { mediaType?.starts(with: Self.multipart) ?? false }

    /// message/rfc822 and message/global (RFC 6532 §3.5): a whole message inside.
    var isEmbeddedMessage: Bool { mediaType == Self.rfc822 || mediaType == Self.global }

    /// text/rfc822-headers (RFC 6522 §4) and message/global-headers (RFC 6533 §6):
    /// a header block alone.
    var isEmbeddedHeaderBlock: Bool { mediaType == Self.rfc822Headers || mediaType == Self.globalHeaders }

    /// The header block at the start of an embedded message's or header block's
    /// content, if this is one of those types.
    var embeddedBlock: MIMEWalker.HeaderBlock? {
        if isEmbeddedMessage { return .message }
        if isEmbeddedHeaderBlock { return .headersOnly }
        return nil
    }

    /// How the parts of this multipart are read.
    var parts: Boundary.Parts {
        if mediaType == Self.digest { return .readAsMessages }
        if mediaType == Self.signed || mediaType == Self.encrypted { return .leftAlone }
        return .read
    }

    static let maximumBoundaryLength = 1000

    /// A digest's parts without Content-Type are message/rfc822 (RFC 2046 §5.1.5).
    static let digestDefault = ContentTypeField(field: Array("Content-Type: message/rfc822".utf8)[...])

    /// `field` (the bytes this was parsed from) with every boundary value replaced
    /// by its ``Boundary/replacement(for:key:)``, quoted.
    func replacingBoundaries(in field: ArraySlice<UInt8>, key: HMACKey) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(field.count + 64 * boundaryParameters.count)
        var copied = field.startIndex
        for (range, value) in boundaryParameters {
            output += field[copied..<range.lowerBound]
            output.append(UInt8(ascii: "\""))
            output += Boundary.replacement(for: value[...], key: key)
            output.append(UInt8(ascii: "\""))
            copied = range.upperBound
        }
        output += field[copied...]
        return output
    }

    /// The first value of parameter `attribute` (lower-case) in a structured field
    /// such as Content-Disposition (RFC 2183: `disposition *(";" parameter)`).
    static func parameter(_ attribute: [UInt8], in field: ArraySlice<UInt8>) -> [UInt8]? {
        var scanner = Scanner(bytes: field, index: field.firstIndex(of: UInt8(ascii: ":")) ?? field.endIndex)
        while let parameter = scanner.nextParameter() {
            if parameter.attribute == attribute { return parameter.value }
        }
        return nil
    }

    /// The first token of a field's value, lower-cased (the value of
    /// Content-Transfer-Encoding, RFC 2045 §6.1).
    static func fieldValueToken(_ field: ArraySlice<UInt8>) -> [UInt8] {
        var scanner = Scanner(bytes: field, index: field.firstIndex(of: UInt8(ascii: ":")).map { $0 + 1 } ?? field.endIndex)
        scanner.skipSpaceAndComments()
        return scanner.token().asciiLowercased()
    }

    var isCalendar: Bool { mediaType == Self.calendar || mediaType == Self.ics }

    private static let boundaryName = Array("boundary".utf8)
    private static let nameName = Array("name".utf8)
    private static let calendar = Array("text/calendar".utf8)
    private static let ics = Array("application/ics".utf8)
    private static let multipart = Array("multipart/".utf8)
    private static let digest = Array("multipart/digest".utf8)
    private static let signed = Array("multipart/signed".utf8)
    private static let encrypted = Array("multipart/encrypted".utf8)
    private static let globalHeaders = Array("message/global-headers".utf8)
    private static let rfc822 = Array("message/rfc822".utf8)
    private static let global = Array("message/global".utf8)
    private static let rfc822Headers = Array("text/rfc822-headers".utf8)
}

/// Reads the tokens of a structured MIME field from its raw bytes (RFC 2045 §5.1,
/// RFC 5322 §3.2.2 comments and folding white space).
private struct Scanner {
    let bytes: ArraySlice<UInt8>
    var index: Int

    /// RFC 2045 tspecials, plus space and controls: what ends a token.
    static func endsToken(_ byte: UInt8) -> Bool {
        tokenEnds[Int(byte)]
    }

    private static let tokenEnds: [Bool] = (0...255).map { byte in
        byte <= 32 || byte == 127 || "()<>@,;:\\\"/[]?=".utf8.contains(UInt8(byte))
    }

    mutating func skipSpaceAndComments() {
        var depth = 0
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "(") {
                depth += 1
            } else if byte == UInt8(ascii: ")") && depth > 0 {
                depth -= 1
            } else if byte == UInt8(ascii: "\\") && depth > 0 {
                // A quoted pair inside a comment: skip the escaped byte too.
                index = min(index + 2, bytes.endIndex)
                continue
            } else if depth == 0 && !(byte == 32 || byte == 9 || byte == 13 || byte == 10) {
                return
            }
            index += 1
        }
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.endIndex, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    mutating func token() -> [UInt8] {
        let start = index
        while index < bytes.endIndex && !Self.endsToken(bytes[index]) { index += 1 }
        return Array(bytes[start..<index])
    }

    /// A quoted-string without its quotes (`\\` and `\"` resolved, folding line
    /// breaks dropped), or an unquoted value: everything up to the next `;`, trailing
    /// white space removed. Both as MIME parsers read them (Python's email package
    /// takes `boundary=----=_NextPart_0` whole, though `=` may not be in a token).
    mutating func value() -> [UInt8] {
        guard take(UInt8(ascii: "\"")) else {
            let start = index
            while index < bytes.endIndex && bytes[index] != UInt8(ascii: ";") { index += 1 }
            while index > start, [32, 9, 13, 10].contains(bytes[index - 1]) { index -= 1 }
            return Array(bytes[start..<index])
        }
        var value: [UInt8] = []
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return value
            case UInt8(ascii: "\\") where index < bytes.endIndex && (bytes[index] == UInt8(ascii: "\\") || bytes[index] == UInt8(ascii: "\"")):
                value.append(bytes[index])
                index += 1
            case 13, 10:
                continue
            default:
                value.append(byte)
            }
        }
        return value
    }

    /// The next `attribute=value` parameter after a `;`: the attribute lower-cased,
    /// the value read by ``value()`` and where it stood (with its quotes).
    mutating func nextParameter() -> (attribute: [UInt8], value: [UInt8], range: Range<Int>)? {
        while skipToParameter() {
            skipSpaceAndComments()
            let attribute = token().asciiLowercased()
            skipSpaceAndComments()
            guard take(UInt8(ascii: "=")) else { continue }
            skipSpaceAndComments()
            let start = index
            let value = value()
            return (attribute, value, start..<index)
        }
        return nil
    }

    /// Moves past the next `;` outside quoted strings and comments; false at the end.
    mutating func skipToParameter() -> Bool {
        while index < bytes.endIndex {
            switch bytes[index] {
            case UInt8(ascii: ";"):
                index += 1
                return true
            case UInt8(ascii: "\""):
                _ = value()
            case UInt8(ascii: "("):
                skipSpaceAndComments()
            default:
                index += 1
            }
        }
        return false
    }
}
