/// Replaces message ids (`<left@right>`, RFC 5322 §3.6.4) by
/// `<BASE32(HMAC-SHA256(key, left@right))@hostname>`: the same id always maps to
/// the same new one, so replies stay threaded, and no internal host name survives.
///
/// Only the sender organization's ids are mapped: the Message-ID and Content-IDs of
/// the message itself, and those ids in In-Reply-To and References whose right-hand
/// side is the organization's (the domain of its own Message-ID, or an internal
/// name such as `*.local` or `*.internal`). Ids of outside correspondents, and ids
/// Veil already made, are left alone: mapping them would break the thread for
/// the people who sent them.
struct MessageIDMapping {
    enum Field {
        /// Message-ID, Content-ID, Resent-Message-ID: always the sender's own.
        case own
        /// In-Reply-To, References: the sender's ids and other people's.
        case reference
    }

    /// Lower-cased field names and their kind.
    static let fields: [([UInt8], Field)] = [
        (Array("message-id".utf8), .own), (Array("content-id".utf8), .own), (Array("resent-message-id".utf8), .own),
        (Array("in-reply-to".utf8), .reference), (Array("references".utf8), .reference),
    ]

    /// Suffixes of names that only make sense inside an organization.
    static let internalSuffixes = [".local", ".internal", ".lan", ".localdomain", ".corp", ".home.arpa", ".intranet",
                                   ".localhost"].map { Array($0.utf8) }

    let key: HMACKey
    /// `@hostname>`, the end of every mapped id.
    private let suffix: [UInt8]
    private let lowercasedHostname: [UInt8]
    /// The right-hand side of the message's own Message-ID, and its parent domain.
    private let organizationDomains: [[UInt8]]

    init(key: HMACKey, hostname: String, ownMessageID: ArraySlice<UInt8>?) {
        self.key = key
        suffix = Array("@\(hostname)>".utf8)
        lowercasedHostname = hostname.utf8.asciiLowercased()
        var domains: [[UInt8]] = []
        if let own = ownMessageID.flatMap(Self.firstID).flatMap(Self.rightHandSide) {
            domains.append(own)
            if let dot = own.firstIndex(of: UInt8(ascii: ".")), own[(dot + 1)...].contains(UInt8(ascii: ".")) {
                domains.append(Array(own[(dot + 1)...]))
            }
        }
        organizationDomains = domains
    }

    static func kind(ofLowercasedName name: ArraySlice<UInt8>) -> Field? {
        fields.first { name.elementsEqual($0.0) }?.1
    }

    /// Maps the ids of one field; the rest (name, spaces, folding, comments) keeps
    /// its bytes. Nil when nothing in the field is mapped.
    func rewrite(_ field: ArraySlice<UInt8>, kind: Field) -> [UInt8]? {
        var output: [UInt8] = []
        var copied = field.startIndex
        var index = field.firstIndex(of: UInt8(ascii: ":")) ?? field.endIndex
        while let open = field[index...].firstIndex(of: UInt8(ascii: "<")) {
            index = open + 1
            guard let (id, close) = Self.id(at: open, in: field), shouldMap(id, kind: kind) else { continue }
            if output.isEmpty { output.reserveCapacity(field.count + 64) }
            output += field[copied..<open]
            output.append(UInt8(ascii: "<"))
            Base32.encode(id.withUnsafeBytes { key.authenticate($0) }, into: &output)
            output += suffix
            copied = close + 1
            index = copied
        }
        guard copied != field.startIndex else { return nil }
        output += field[copied...]
        return output
    }

    private func shouldMap(_ id: ArraySlice<UInt8>, kind: Field) -> Bool {
        guard let right = Self.rightHandSide(id) else { return kind == .own }
        if right == lowercasedHostname { return false }
        if kind == .own || organizationDomains.contains(right) { return true }
        if organizationDomains.contains(where: { right.count > $0.count && right.suffix($0.count + 1) == [UInt8(ascii: ".")] + $0 }) {
            return true
        }
        return !right.contains(UInt8(ascii: ".")) || right.first == UInt8(ascii: "[")
            || Self.internalSuffixes.contains { right.count > $0.count && right.suffix($0.count).elementsEqual($0) }
    }

    /// The `<...>` starting at `index`: its content and the index of its `>`.
    private static func id(at index: Int, in field: ArraySlice<UInt8>) -> (ArraySlice<UInt8>, Int)? {
        guard field[index] == UInt8(ascii: "<"),
              let close = field[index...].firstIndex(of: UInt8(ascii: ">")), close > index + 1
        else { return nil }
        let content = field[(index + 1)..<close]
        guard !content.contains(where: { $0 == UInt8(ascii: "<") || $0 == 13 || $0 == 10 }) else { return nil }
        return (content, close)
    }

    private static func firstID(_ field: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        var index = field.startIndex
        while index < field.endIndex {
            if let (id, _) = id(at: index, in: field) { return id }
            index += 1
        }
        return nil
    }

    /// The lower-cased part after the last `@`, without a trailing dot.
    private static func rightHandSide(_ id: ArraySlice<UInt8>) -> [UInt8]? {
        guard let at = id.lastIndex(of: UInt8(ascii: "@")), at + 1 < id.endIndex else { return nil }
        var right = id[(at + 1)...].asciiLowercased()
        if right.last == UInt8(ascii: ".") { right.removeLast() }
        return right
    }
}
