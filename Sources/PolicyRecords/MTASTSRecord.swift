/// What the `_mta-sts.<domain>` TXT records say (RFC 8461 §3.1): whether the
/// domain publishes an MTA-STS policy, and the id of its current version.
///
///     sts-text-record = sts-version 1*(sts-field-delim sts-field)
///                       [sts-field-delim]
///     sts-field       = sts-id /                  ; Note that sts-id record
///                       sts-extension             ; is required.
///     sts-field-delim = *WSP ";" *WSP
///     sts-version     = %s"v=STSv1"
///     sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
///     sts-extension   = sts-ext-name "=" sts-ext-value
///
/// "Absent" and "invalid" lead to the same delivery (§3.1: senders "MUST assume
/// the recipient domain does not have an available MTA-STS Policy"; a cached,
/// unexpired policy still applies, §5.1) but not to the same log line or TLS
/// report: a domain that publishes a broken record wants to hear of it.
public enum MTASTSRecord: Sendable, Equatable {
    /// No record begins with `v=STSv1`: the domain publishes no policy.
    case absent
    /// Exactly one record, well formed. The id changes whenever the policy does
    /// (§3.1), so a cached policy with another id is fetched again.
    case valid(id: String)
    /// Records begin with `v=STSv1` but none can be used: there are several, or the
    /// one is malformed. Why, for logs and reports: ASCII, and of the record
    /// at most the name of a field.
    case invalid(String)

    /// sts-version, case-sensitive.
    public static let version = "v=STSv1"

    /// The TXT records found at `_mta-sts.<domain>`, each one's strings joined
    /// ("concatenated without adding spaces", §3.1).
    public init(txtRecords: [String]) {
        switch PolicyGrammar.select(txtRecords, version: Self.version) {
        case .absent: self = .absent
        case .invalid(let why): self = .invalid(why)
        case .fields(let fields): self = Self.record(fields)
        }
    }

    /// The fields of the one record: an id is required; other fields are
    /// extensions, ignored but well formed; of several ids the first counts (the
    /// rules for unknown and repeated fields are §3.2's, for records and policies).
    static func record(_ fields: [PolicyGrammar.Field]) -> MTASTSRecord {
        var id: String?
        for field in fields {
            if field.name == "id", id == nil {
                // sts-id = %s"id=" 1*32(ALPHA / DIGIT)
                guard (1...32).contains(field.value.count), field.value.allSatisfy(PolicyGrammar.isAlphaDigit) else {
                    return .invalid("id is not 1 to 32 letters and digits")
                }
                id = String(decoding: field.value, as: UTF8.self)
            } else if !PolicyGrammar.isExtensionValue(field.value) {
                return .invalid("\(field.name)= is empty or has a space, a control, =, ; or a non-ASCII character")
            }
        }
        guard let id else { return .invalid("no id") }
        return .valid(id: id)
    }
}
