/// Which header fields leave Veil.
///
/// - allowlist: a field passes when it is on ``Allowlist/fields`` or `keep`, and not
///   on `remove`;
/// - denylist: a field is removed when it is on the profile's list or `remove`, and
///   not on `keep`.
///
/// In both, whatever `keep` says, Bcc and Resent-Bcc never leave (RFC 5322 §3.6.3:
/// they name the blind recipients), nor do signatures and seals made inside
/// (DKIM-Signature, DomainKey-Signature, ARC-*): their selectors name the internal
/// signer, the fields Veil removes break them, and Veil signs what it sends itself
/// (docs/dkim.md).
public struct ScrubRules: Sendable {
    public enum Mode: Sendable {
        case allowlist
        case denylist
    }

    public let mode: Mode
    /// Allowlist: what passes. Denylist: what is removed.
    let listed: FieldNamePatterns
    /// Allowlist: `remove`. Denylist: `keep`.
    let exceptions: FieldNamePatterns

    /// Allowlist mode: ``Allowlist/fields`` plus `keep`, minus `remove`.
    public static func allowlist(keep: [String], remove: [String]) -> ScrubRules {
        ScrubRules(mode: .allowlist, listed: FieldNamePatterns(Allowlist.fields + keep), exceptions: FieldNamePatterns(remove))
    }

    /// Denylist mode: `profile` (``ExchangeProfile/removedFields`` or empty) plus
    /// `remove`, minus `keep`.
    public static func denylist(profile: [String], remove: [String], keep: [String]) -> ScrubRules {
        ScrubRules(mode: .denylist, listed: FieldNamePatterns(profile + remove), exceptions: FieldNamePatterns(keep))
    }

    /// True for a valid `remove`/`keep` entry: a field name (RFC 5322 §3.6.8 ftext),
    /// optionally ending in `*`.
    public static func isValidPattern(_ text: String) -> Bool {
        let name = text.hasSuffix("*") ? text.dropLast() : Substring(text)
        return !name.isEmpty && name.utf8.allSatisfy { (33...126).contains($0) && $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "*") }
    }

    /// The field, of those every MIME message needs (RFC 2045 §4, §5, §6), that a
    /// `remove` entry would take out, if any: removing it would make encoded parts
    /// and attachments unreadable.
    public static func removedStructuralField(_ remove: [String]) -> String? {
        let patterns = FieldNamePatterns(remove)
        return ["MIME-Version", "Content-Type", "Content-Transfer-Encoding"].first {
            patterns.match(Array($0.lowercased().utf8)[...])
        }
    }

    /// True when the field named `lowercasedName` must not leave Veil.
    public func shouldRemove(_ lowercasedName: ArraySlice<UInt8>) -> Bool {
        if Self.neverLeaves.match(lowercasedName) { return true }
        switch mode {
        case .allowlist: return !listed.match(lowercasedName) || exceptions.match(lowercasedName)
        case .denylist: return listed.match(lowercasedName) && !exceptions.match(lowercasedName)
        }
    }

    static let neverLeaves = FieldNamePatterns(["Bcc", "Resent-Bcc", "DKIM-Signature", "DomainKey-Signature", "ARC-*"])
}

/// Field names and `prefix*` patterns, lower-cased: exact names grouped by length,
/// prefixes in a list, so that matching a field costs a few byte comparisons and
/// no hashing.
struct FieldNamePatterns: Sendable {
    private var exactByLength: [[[UInt8]]] = []
    private var prefixes: [[UInt8]] = []

    init(_ texts: [String]) {
        for text in texts {
            if text.hasSuffix("*") {
                prefixes.append(Array(text.dropLast().lowercased().utf8))
            } else {
                let name = Array(text.lowercased().utf8)
                while exactByLength.count <= name.count { exactByLength.append([]) }
                exactByLength[name.count].append(name)
            }
        }
    }

    func match(_ lowercasedName: ArraySlice<UInt8>) -> Bool {
        if lowercasedName.count < exactByLength.count,
           exactByLength[lowercasedName.count].contains(where: { lowercasedName.elementsEqual($0) }) {
            return true
        }
        return prefixes.contains { lowercasedName.starts(with: $0) }
    }
}
