/// The header fields the built-in `exchange` profile removes. This list is the one
/// place they are named; docs/scrubbing.md explains each entry. A trailing `*`
/// matches every name with that prefix. Names are matched case-insensitively.
public enum ExchangeProfile {
    public static let removedFields = [
        // Trace fields: the internal hop chain with host names and addresses.
        "Received", "X-Received", "Return-Path",
        // The client and its address.
        "X-Originating-IP", "X-Originating-Client", "X-Source*",
        // Mail software and its versions.
        "X-Mailer", "User-Agent", "X-MimeOLE",
        // Exchange and Exchange Online transport and organization data.
        "X-MS-Exchange-*", "X-Microsoft-Exchange-*", "X-MS-Office365-*",
        "X-MS-Has-Attach", "X-MS-TNEF-Correlator", "X-MS-PublicTrafficType",
        "X-MS-TrafficTypeDiagnostic", "X-EOPAttributedMessage", "X-EOPTenantAttributedMessage", "X-MS-Oob-*",
        "X-LD-Processed",
        "X-Microsoft-Antispam*", "X-Exchange-Antispam*", "X-Forefront-*",
        // Added by Exchange send connectors and hybrid setups: name the server.
        "X-CrossPremisesHeaders*", "X-OrganizationHeadersPreserved", "X-OriginatorOrg",
        // Outlook conversation tracking and client locale.
        "Thread-Index", "Thread-Topic", "Accept-Language",
        // Microsoft Information Protection labels (tenant and label ids).
        "msip_labels",
        // Auto-reply suppression hints that reveal Exchange internals.
        "X-Auto-Response-Suppress",
    ]
}

/// Which header fields to remove: a profile's list plus `remove`, minus `keep`.
public struct ScrubRules: Sendable {
    /// Lower-cased names: exact ones grouped by length, `prefix*` ones in a list, so
    /// that a field costs a few byte comparisons and no hashing.
    struct Patterns: Sendable {
        var exactByLength: [[[UInt8]]] = []
        var prefixes: [[UInt8]] = []

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

    let removed: Patterns
    let kept: Patterns

    /// `profile` is the profile's list (``ExchangeProfile/removedFields`` or empty).
    public init(profile: [String], remove: [String], keep: [String]) {
        removed = Patterns(profile + remove)
        kept = Patterns(keep)
    }

    /// True for a valid `remove`/`keep` entry: a field name (RFC 5322 §3.6.8 ftext),
    /// optionally ending in `*`.
    public static func isValidPattern(_ text: String) -> Bool {
        let name = text.hasSuffix("*") ? text.dropLast() : Substring(text)
        return !name.isEmpty && name.utf8.allSatisfy { (33...126).contains($0) && $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "*") }
    }

    func shouldRemove(_ lowercasedName: ArraySlice<UInt8>) -> Bool {
        removed.match(lowercasedName) && !kept.match(lowercasedName)
    }
}
