import Foundation
import Testing
@testable import MessageRewriter

/// The MIME walker's contract (issue 7, issue 12) on the cases the end-to-end suite
/// used to send through the daemon one by one (Tests/e2e/test_mime.py keeps the round
/// trips): the hand-made messages are the same files, Tests/e2e/corpus/mime. Each runs
/// in both scrub modes where the mode could matter; the expected counts are what
/// Tests/e2e/mime_expect.py, the independent Python model, computes for them.
@Suite struct MIMEContractTests {
    static let modes: [ScrubRules.Mode] = [.allowlist, .denylist]

    /// A top-level header block that survives scrubbing but for the Message-ID.
    static func mimeMessage(_ contentType: String, _ body: [UInt8], subject: String = "mime test") -> [UInt8] {
        [UInt8](crlf: """
            From: Alice Martin <alice.martin@contoso.com>
            To: Bob Keller <bob.keller@fabrikam.example>
            Subject: \(subject)
            Date: Mon, 20 Nov 2023 10:00:00 +0000
            Message-ID: <\(subject.replacingOccurrences(of: " ", with: "-"))@EXCH01.corp.internal>
            MIME-Version: 1.0

            """) + [UInt8](contentType) + [13, 10, 13, 10] + body
    }

    // MARK: Boundaries

    @Test func aBoundaryBecomesTheSameKeyedHashInEveryMessage() {
        let old = "_000_0f1e2d3c4b5a49687766554433221100EXCH01corpinternal_"
        let body = [UInt8](crlf: "--\(old)\nContent-Type: text/plain; charset=\"us-ascii\"\n\nhello\n"
                                 + "--\(old)\nContent-Type: text/html\n\n<p>hello</p>\n--\(old)--\n")
        let message = Self.mimeMessage("Content-Type: multipart/alternative;\r\n\tboundary=\(old)", body)
        let first = Rewriting.run(message, Rewriting.configuration(.denylist))
        let new = Keyed.boundary(old)
        #expect(new.utf8.count == 39 && new.wholeMatch(of: /=_veil_[a-z2-7]{32}/) != nil)
        // Written quoted in the field, nothing else of it changed; the delimiter lines too.
        #expect(first.output.has("Content-Type: multipart/alternative;\r\n\tboundary=\"\(new)\"\r\n"))
        #expect(first.body == body.replacing("--\(old)", with: "--\(new)"))
        #expect(!first.output.text.lowercased().contains(old.lowercased()))
        // 1 parameter, 3 delimiter lines.
        #expect(first.rewrites == 4)

        let again = Rewriting.run(message.replacing("Subject: mime test", with: "Subject: again"), Rewriting.configuration(.denylist))
        #expect(again.body == first.body)
        let otherOld = String(old.dropLast(2)) + "X_"
        let other = Rewriting.run(message.replacing(old, with: otherOld), Rewriting.configuration(.denylist))
        #expect(!other.output.has(new) && other.output.has(Keyed.boundary(otherOld)))
    }

    @Test func aMessageWithoutPartsIsLeftAlone() {
        let body = [UInt8](crlf: "--_000_0f1e2d3cEXCH01corpinternal_\nno multipart\n")
        let plain = Rewriting.run(Self.mimeMessage("Content-Type: text/plain", body), Rewriting.configuration(.denylist))
        #expect(plain.body == body)
        #expect(plain.rewrites == 0)
    }

    // MARK: Malformed structures

    /// What Veil's reader hands the rewriter: bare CR and LF made CRLF
    /// (`bare_newline = "normalize"`).
    static func normalized(_ message: [UInt8]) -> [UInt8] {
        Array(message.text.replacingOccurrences(of: "\r\n|\r|\n", with: "\r\n", options: .regularExpression).utf8)
    }

    /// corpus/mime/malformed: read and passed in both modes. corpus/mime/unreadable:
    /// a header block the walker cannot read, passed by the denylist, refused by the
    /// allowlist (554 5.6.0, which cannot tell what would leave).
    static let malformed = Corpus.messages(in: "mime/malformed") + Corpus.messages(in: "mime/unreadable")

    /// mime_rewritten (boundary parameters + delimiter lines) and whether mime_skipped
    /// is logged, per message.
    static let malformedCounts: [String: (rewrites: Int, skipped: Bool)] = [
        "boundary-never-appears": (1, false), "close-delimiter-at-end-of-message": (3, false),
        "comment-before-boundary": (3, false), "content-type-variants": (12, false),
        "delimiter-lookalikes-outside-their-multipart": (6, false), "delimiters-with-trailing-space": (4, false),
        "inner-closed-by-outer": (6, false), "innermost-first": (6, false), "lf-line-ends": (5, false),
        "mbox-from-line-before-attached-header": (3, false), "missing-close-delimiter": (3, false),
        "part-header-ended-by-delimiter": (5, false),
        "attached-header-ended-by-from-line": (3, false), "attached-header-with-nul": (3, true),
        "part-header-ended-by-a-colon-line": (3, false), "part-header-ended-by-text": (3, false),
        "part-header-line-without-colon-in-the-middle": (3, false),
        "part-header-starts-with-a-continuation-line": (3, true), "part-header-with-nul": (3, true),
        "rfc822-headers-part-ended-by-text": (4, false), "rfc822-part-header-without-empty-line": (3, false),
    ]

    /// The shared files are read from the source tree: none missing, none unlisted.
    @Test func everySharedMessageIsThere() {
        #expect(Self.malformed.map { String($0.split(separator: "/").last!.dropLast(4)) }.sorted()
            == Self.malformedCounts.keys.sorted())
        #expect(Corpus.messages(in: "mime/oversized").count == 3)
    }

    @Test(arguments: malformed, modes)
    func malformedMIMELosesNoByte(path: String, mode: ScrubRules.Mode) throws {
        let message = Self.normalized(Corpus.bytes(path))
        let name = String(path.split(separator: "/").last!.dropLast(4))
        let expected = try #require(Self.malformedCounts[name])
        let rewritten = Rewriting.run(message, Rewriting.configuration(mode))
        if mode == .allowlist && path.hasPrefix("mime/unreadable/") {
            #expect(rewritten.rejection == .unreadableMIME)
            return
        }
        #expect(rewritten.rejection == nil)
        // The top-level Content-Type and the body: every byte kept but the boundaries.
        let olds = Self.boundaries(in: message)
        MIMEReading.sameButBoundaries(MIMEReading.rawField("content-type", in: MIMEReading.entity(rewritten.output).header),
                                      MIMEReading.rawField("content-type", in: MIMEReading.entity(message).header), olds)
        MIMEReading.sameButBoundaries(rewritten.body, message.body, olds)
        #expect(rewritten.rewrites == expected.rewrites)
        #expect((rewritten.skipped != nil) == expected.skipped)
    }

    /// The values of every boundary parameter in `message` (quoted or not; quoted
    /// pairs resolved, trailing white space dropped), as the contract reads them.
    static func boundaries(in message: [UInt8]) -> [String] {
        let text = message.text.replacingOccurrences(of: "\r\n[ \t]", with: " ", options: .regularExpression)
        return text.matches(of: /(?i)boundary[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|[^\s;()"]+)/).map { match in
            var value = String(match.1)
            if value.hasPrefix("\"") {
                value = String(value.dropFirst().dropLast()).replacing(/\\(.)/) { String($0.1) }
            }
            while value.hasSuffix(" ") || value.hasSuffix("\t") { value.removeLast() }
            return value
        }.filter { !$0.isEmpty }
    }

    // MARK: Nesting and size limits

    /// Multiparts `levels` deep (the message is level 1, boundary lvl01), text at the
    /// bottom, and a second part of the top multipart after the deep one.
    static func nestedMessage(levels: Int) -> [UInt8] {
        func entity(_ level: Int) -> String {
            guard level <= levels else { return "Content-Type: text/plain\n\ndeep down\n" }
            let name = "lvl" + (level < 10 ? "0" : "") + "\(level)"
            return "Content-Type: multipart/mixed; boundary=\"\(name)\"\n\n--\(name)\n\(entity(level + 1))--\(name)--\n"
        }
        let body = "--lvl01\n" + entity(2) + "--lvl01\nContent-Type: text/plain\n\nafter the deep part\n--lvl01--\n"
        return mimeMessage("Content-Type: multipart/mixed; boundary=\"lvl01\"", [UInt8](crlf: body), subject: "deep")
    }

    @Test func nestingDeeperThan32LevelsPassesUntouchedInTheDenylist() {
        let message = Self.nestedMessage(levels: 40)
        let rewritten = Rewriting.run(message, Rewriting.configuration(.denylist))
        #expect(rewritten.skipped == MIMEWalker.Skipped.depth.description)
        // Levels 1-32: 32 parameters and 65 delimiter lines; below, nothing is read.
        #expect(rewritten.rewrites == 32 + 65)
        for level in 1...40 {
            let old = "lvl" + (level < 10 ? "0" : "") + "\(level)"
            if level <= 32 {
                #expect(!rewritten.output.has("boundary=\"\(old)\"") && !rewritten.output.has("--\(old)\r\n"), "level \(level)")
                #expect(rewritten.output.has("boundary=\"\(Keyed.boundary(old))\""), "level \(level)")
            } else {
                #expect(rewritten.output.has("boundary=\"\(old)\"") && rewritten.output.has("--\(old)--\r\n"), "level \(level)")
            }
        }
        MIMEReading.sameButBoundaries(rewritten.body, message.body, (1...32).map { "lvl" + ($0 < 10 ? "0" : "") + "\($0)" })
    }

    /// corpus/mime/oversized: a ~22 KB header block the walker reads (a message/rfc822
    /// part's own, an attached message's, a text/rfc822-headers part's), over
    /// `max_header_size = "16KB"`.
    @Test(arguments: Corpus.messages(in: "mime/oversized"), modes)
    func aHeaderBlockOverTheLimit(path: String, mode: ScrubRules.Mode) {
        let message = Corpus.bytes(path)
        let rewritten = Rewriting.run(message, Rewriting.configuration(mode, maximumHeaderSize: 16 * 1024))
        guard mode == .denylist else {
            // The allowlist cannot tell what the block holds: the message is refused.
            #expect(rewritten.rejection == .unreadableMIME)
            return
        }
        // The block passes as it is, the attached message behind a part's block is not
        // opened; the enclosing boundary is still replaced (1 parameter, 3 delimiters).
        #expect(rewritten.skipped == MIMEWalker.Skipped.headerSize.description)
        #expect(rewritten.body == message.body.replacing("--big-header", with: "--\(Keyed.boundary("big-header"))"))
        #expect(rewritten.rewrites == 4)
    }

    /// A 2 MB attachment (base64, ~2.7 MB of text) between Exchange boundaries, fed in
    /// chunks: only the 4 boundary places change.
    @Test func aBigAttachmentStreamsThrough() {
        let data = SplitMix64.bytes(2 * 1024 * 1024, seed: 20231116)
        let old = "_004_4c3b2a1908f7e6d5c4b3a29180f7e6d5EXCH01corpinternal_"
        let attachment = [UInt8](Data(data).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn,
                                                                           .endLineWithLineFeed]).utf8)
        let body = [UInt8](crlf: """
            --\(old)
            Content-Type: text/plain; charset="us-ascii"

            The backup image is attached.
            --\(old)
            Content-Type: application/octet-stream; name="backup.img"
            Content-Disposition: attachment; filename="backup.img"
            Content-Transfer-Encoding: base64


            """) + attachment + [UInt8](crlf: "\n\n--\(old)--\n")
        let message = Self.mimeMessage("Content-Type: multipart/mixed;\r\n\tboundary=\"\(old)\"", body, subject: "big attachment")
        let rewritten = Rewriting.run(message, Rewriting.configuration(.denylist))
        #expect(rewritten.body == body.replacing("--\(old)", with: "--\(Keyed.boundary(old))"))
        #expect(!rewritten.output.text.lowercased().contains(old.lowercased()))
        #expect(rewritten.rewrites == 4)
    }
}
