/// What the rewriter does to every message (from `[scrub]` and `hostname`).
public struct ScrubConfiguration: Sendable {
    public var rules: ScrubRules
    /// Replace Message-ID, In-Reply-To, References and Content-ID ids by keyed hashes.
    public var rewriteMessageIDs: Bool
    /// The HMAC key of the id mapping (32 random bytes, kept across restarts).
    public var key: [UInt8] {
        didSet { hmacKey = HMACKey(key) }
    }
    /// `key`, prepared for hashing.
    private(set) var hmacKey: HMACKey
    /// The right-hand side of rewritten ids.
    public var hostname: String {
        didSet { ownTracePrefix = Self.tracePrefix(hostname) }
    }
    /// `received: by hostname (veil) `, lower-cased: the start of Veil's own trace field.
    private(set) var ownTracePrefix: [UInt8]
    public var maximumHeaderSize: Int
    /// More Received fields than this: a mail loop (RFC 5321 §6.3).
    public var maximumHops: Int
    /// Scrub the header blocks of attached messages too (message/rfc822,
    /// message/global, text/rfc822-headers, message/global-headers parts).
    public var scrubEmbeddedMessages: Bool
    /// What happens to a message with a TNEF (winmail.dat) part.
    public var tnef: TNEFPolicy

    public enum TNEFPolicy: Sendable {
        /// The message is refused (554 5.6.0).
        case reject
        /// The part is removed; a message whose whole body is TNEF is refused.
        case remove
    }

    public init(rules: ScrubRules, rewriteMessageIDs: Bool, key: [UInt8], hostname: String,
                maximumHeaderSize: Int, maximumHops: Int, scrubEmbeddedMessages: Bool = true, tnef: TNEFPolicy = .reject) {
        self.rules = rules
        self.rewriteMessageIDs = rewriteMessageIDs
        self.key = key
        self.hmacKey = HMACKey(key)
        self.hostname = hostname
        self.ownTracePrefix = Self.tracePrefix(hostname)
        self.maximumHeaderSize = maximumHeaderSize
        self.maximumHops = maximumHops
        self.scrubEmbeddedMessages = scrubEmbeddedMessages
        self.tnef = tnef
    }
}

extension ScrubConfiguration {
    static func tracePrefix(_ hostname: String) -> [UInt8] {
        Array("received: by \(hostname) (veil) ".lowercased().utf8)
    }
}

/// Values that differ per message, made by the caller (the rewriter has no clock and
/// no randomness of its own, so that its output depends only on its input).
public struct MessageContext: Sendable {
    /// Veil's own trace field without its CRLF (`Received: by ...`), or nil.
    public var traceField: String?
    /// RFC 5322 date-time for a message without a Date field.
    public var date: String
    /// `<unique@hostname>` for a message without a Message-ID field.
    public var generatedMessageID: String

    public init(traceField: String?, date: String, generatedMessageID: String) {
        self.traceField = traceField
        self.date = date
        self.generatedMessageID = generatedMessageID
    }
}

/// Why a message cannot be accepted as it is.
public enum MessageRejection: Error, Equatable, Sendable {
    /// The header block is larger than the configured limit (554 5.6.0).
    case headerBlockTooLarge
    /// A NUL byte in the header block (554 5.6.0).
    case nulInHeader
    /// A header line without a colon, or a continuation with nothing to continue (554 5.6.0).
    case malformedHeader
    /// More Received fields than `maximumHops` (554 5.4.6, RFC 5321 §6.3).
    case tooManyHops
    /// More than one From field (550 5.6.0, RFC 5322 §3.6 allows exactly one).
    case multipleFrom
    /// A TNEF (winmail.dat) part, with `tnef = "reject"`, as a message's whole
    /// body, or as the only part of a multipart (554 5.6.0).
    case tnef
    /// In allowlist mode, MIME structure the walker cannot read, so cannot scrub: a
    /// part or attached-message header block that is malformed, larger than
    /// `maximumHeaderSize` or not ended by its empty line, or parts nested deeper
    /// than 32 levels (554 5.6.0).
    case unreadableMIME
}
