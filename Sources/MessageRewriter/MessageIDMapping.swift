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

    let key: [UInt8]
    let hostname: String
    private let lowercasedHostname: [UInt8]
    /// The right-hand side of the message's own Message-ID, and its parent domain.
    private let organizationDomains: [[UInt8]]

    init(key: [UInt8], hostname: String, ownMessageID: ArraySlice<UInt8>?) {
        self.key = key
        self.hostname = hostname
        lowercasedHostname = Self.lowercased(Array(hostname.utf8)[...])
        var domains: [[UInt8]] = []
        if let own = ownMessageID.flatMap(Self.firstID).flatMap(Self.rightHandSide) {
            domains.append(own)
            if let dot = own.firstIndex(of: UInt8(ascii: ".")), own[(dot + 1)...].contains(UInt8(ascii: ".")) {
                domains.append(Array(own[(dot + 1)...]))
            }
        }
        organizationDomains = domains
    }

    static func kind(ofLowercasedName name: [UInt8]) -> Field? {
        fields.first { $0.0 == name }?.1
    }

    /// Maps the ids of one field; the rest (name, spaces, folding, comments) keeps
    /// its bytes.
    func rewrite(_ field: ArraySlice<UInt8>, kind: Field) -> ArraySlice<UInt8> {
        var output: [UInt8] = []
        var index = field.firstIndex(of: UInt8(ascii: ":")).map { $0 + 1 } ?? field.endIndex
        output += field[field.startIndex..<index]
        while index < field.endIndex {
            guard let (id, close) = Self.id(at: index, in: field), shouldMap(id, kind: kind) else {
                output.append(field[index])
                index += 1
                continue
            }
            output += Array("<\(Base32.encode(SHA256.hmac(key: key, message: id)))@\(hostname)>".utf8)
            index = close + 1
        }
        return output[...]
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
        var right = lowercased(id[(at + 1)...])
        if right.last == UInt8(ascii: ".") { right.removeLast() }
        return right
    }

    static func lowercased(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        bytes.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
    }
}
