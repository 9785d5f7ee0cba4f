import MessageRewriter

/// `[scrub]`: what the header rewriter removes and rewrites (docs/scrubbing.md).
extension Configuration.Scrub: ConfigSection {
    static let keys: [ConfigKey<Configuration.Scrub>] = [
        .choice("mode", \.mode, doc: "\"allowlist\": only the fields recipients need leave; \"denylist\": profile and remove go."),
        .choice("profile", \.profile, doc: "The denylist of mode = \"denylist\": \"exchange\" or \"none\"."),
        .strings("remove", \.remove, doc: "Field names to remove (a trailing * matches a prefix).", check: fieldNameProblem),
        .strings("keep", \.keep, doc: "Field names to let out (a trailing * matches a prefix).", check: fieldNameProblem),
        .choice("message_id", \.messageID, doc: "\"rewrite\" ids as HMAC hashes, or \"keep\" them."),
        .choice("received", \.received, doc: "\"anonymous\": one trace field of Veil's own; \"none\"."),
        .integer("max_hops", \.maximumHops, in: 1...1000, doc: "More Received fields than this: 554 5.4.6 (a loop)."),
        .boolean("embedded_messages", \.embeddedMessages, doc: "Scrub the header blocks of attached messages too."),
        .choice("tnef", \.tnef, doc: "A TNEF (winmail.dat) part: \"reject\" the message or \"remove\" the part."),
        .path("secret_file", \.secretFile, doc: "The HMAC key of the id mapping; empty: scrub.key in spool_dir.")
            .recordingLine(in: \.secretFileLine),
    ]

    static func finish(_ scrub: inout Configuration.Scrub, _ reader: TableReader) throws(ConfigError) {
        if let field = ScrubRules.removedStructuralField(scrub.remove) {
            throw reader.error("remove", "would remove \(field), without which mail programs cannot read MIME messages")
        }
    }

    @Sendable private static func fieldNameProblem(_ pattern: String) -> String? {
        ScrubRules.isValidPattern(pattern) ? nil : "\"\(pattern)\" is not a header field name (a trailing * matches a prefix)"
    }
}
