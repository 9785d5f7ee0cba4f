/// The header fields that leave Veil in `[scrub] mode = "allowlist"` (the default):
/// every other field of a header block is removed. This list is the one place they
/// are named; docs/scrubbing.md explains each entry. A trailing `*` matches every
/// name with that prefix. Names are matched case-insensitively.
public enum Allowlist {
    public static let fields = [
        // RFC 5322 §3.6.2 originator fields.
        "From", "Sender", "Reply-To",
        // RFC 5322 §3.6.3 destination fields (Bcc never leaves: ``ScrubRules/neverLeaves``).
        "To", "Cc",
        // RFC 5322 §3.6.1 origination date, §3.6.4 identification (ids mapped by
        // MessageIDMapping), §3.6.5 informational fields.
        "Date", "Message-ID", "In-Reply-To", "References", "Subject", "Comments", "Keywords",
        // RFC 5322 §3.6.6 resent blocks (Resent-Message-ID mapped like Message-ID).
        "Resent-Date", "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc", "Resent-Message-ID",
        // RFC 2045 §4, §3: MIME. Content-* describes the body and its parts.
        "MIME-Version", "Content-*",
        // What receivers act on: mailing lists (RFC 2369, RFC 2919, RFC 8058),
        // automatic replies (RFC 3834; Precedence: bulk/list, RFC 2076 §3.9, which
        // auto-responders still honour), read receipts (RFC 8098), priority and
        // sensitivity (RFC 2156, the X-Priority convention), Autocrypt keys.
        "List-*", "Auto-Submitted", "Precedence", "Disposition-Notification-To",
        "Importance", "Priority", "X-Priority", "Sensitivity", "Autocrypt",
    ]
}
