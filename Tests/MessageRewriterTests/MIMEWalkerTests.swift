import Foundation
import NIOCore
import Testing
@testable import MessageRewriter

/// The MIME walker through the whole rewriter: boundaries and embedded header blocks
/// rewritten, every other byte kept, the same output for every split of the input.
/// (Longer than 300 lines: its helpers `walk`, `new` and `restore` serve the other
/// walker suites too; the cases moved from the end-to-end suite are in
/// MIMEContractTests, PartHeaderBlockTests, TNEFTests and EncodedPartTests.)
@Suite struct MIMEWalkerTests {
    let rewriter = MessageRewriterTests()

    static func lines(_ lines: [String]) -> String {
        lines.joined(separator: "\r\n") + "\r\n"
    }

    static func new(_ old: String, key: [UInt8] = MessageRewriterTests.key) -> String {
        String(decoding: Boundary.replacement(for: Array(old.utf8)[...], key: HMACKey(key)), as: UTF8.self)
    }

    /// `output` with the new boundaries of `olds` turned back into the old ones (a
    /// quoted new parameter value into the unquoted old one).
    static func restore(_ output: String, _ olds: [String]) -> String {
        olds.reduce(output) { text, old in
            text.replacingOccurrences(of: "\"\(new(old))\"", with: old).replacingOccurrences(of: new(old), with: old)
        }
    }

    /// Output for the whole input (checked for every split), and the rewriter's counts.
    func walk(_ text: String, configuration: ScrubConfiguration = MessageRewriterTests.configuration())
        -> (output: String, rewrites: Int, skipped: String?) {
        let output = rewriter.text(rewriter.everySplit(text, configuration: configuration))
        var whole = MessageRewriter(configuration: configuration, context: MessageRewriterTests.context)
        var buffers: [ByteBuffer] = []
        try? whole.process(ByteBuffer(string: text), into: &buffers)
        try? whole.finish(into: &buffers)
        return (output, whole.mimeRewrites, whole.mimeSkipped)
    }

    /// The body of `output` (after the first empty line).
    func body(_ output: String) -> String {
        output.range(of: "\r\n\r\n").map { String(output[$0.upperBound...]) } ?? ""
    }

    static let outer = "_004_7b1e8bd6b0a74d4e8e8f3b1f0d0c5f55EXCH03corpinternal_"
    static let inner = "_000_7b1e8bd6b0a74d4e8e8f3b1f0d0c5f55EXCH03corpinternal_"

    /// What Exchange 2016/2019 sends: multipart/mixed holding a multipart/alternative
    /// and a base64 attachment, boundaries made of the id and the server name.
    static let exchangeMessage = lines([
        "Received: from EXCH03.corp.internal (10.20.30.43) by EXCH01.corp.internal (10.20.30.41)",
        "From: Alice <alice@contoso.com>",
        "To: bob@fabrikam.example",
        "Subject: report",
        "Date: Mon, 30 Nov 2026 09:00:00 +0000",
        "Message-ID: <7b1e8bd6b0a74d4e8e8f3b1f0d0c5f55@EXCH03.corp.internal>",
        "Content-Type: multipart/mixed;",
        "\tboundary=\"\(outer)\"",
        "MIME-Version: 1.0",
        "",
        "--\(outer)",
        "Content-Type: multipart/alternative;",
        "\tboundary=\"\(inner)\"",
        "",
        "--\(inner)",
        "Content-Type: text/plain; charset=\"us-ascii\"",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "See attached.",
        "-- ",
        "Alice",
        "",
        "--\(inner)",
        "Content-Type: text/html; charset=\"us-ascii\"",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "<html><body>See attached.</body></html>",
        "",
        "--\(inner)--",
        "",
        "--\(outer)",
        "Content-Type: application/pdf; name=\"report.pdf\"",
        "Content-Disposition: attachment; filename=\"report.pdf\"",
        "Content-Transfer-Encoding: base64",
        "",
        "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K",
        "eJwrVAhUKFQwUAhRSMsvKkpNLVHIzy8BAEp2BhcKZW5kc3RyZWFtCmVuZG9iago=",
        "",
        "--\(outer)--",
        "",
    ])

    @Test func exchangeBoundariesAreReplacedEverywhereAndNothingElseChanges() {
        let (output, rewrites, skipped) = walk(Self.exchangeMessage)
        #expect(!output.contains("EXCH03") && !output.contains("7b1e8bd6") && !output.contains("corpinternal"))
        // The body is the input's with each old boundary replaced by its new one.
        let expected = body(Self.exchangeMessage)
            .replacingOccurrences(of: Self.outer, with: Self.new(Self.outer))
            .replacingOccurrences(of: Self.inner, with: Self.new(Self.inner))
        #expect(body(output) == expected)
        #expect(output.contains("Content-Type: multipart/mixed;\r\n\tboundary=\"\(Self.new(Self.outer))\"\r\n"))
        #expect(Self.new(Self.outer).wholeMatch(of: /=_veil_[a-z2-7]{32}/) != nil)
        #expect(Self.new(Self.outer) != Self.new(Self.inner))
        // 2 parameters, 3 + 3 delimiter lines.
        #expect(rewrites == 8)
        #expect(skipped == nil)
    }

    @Test func theNewBoundaryDependsOnTheKey() {
        #expect(Self.new(Self.outer) != Self.new(Self.outer, key: [UInt8](repeating: 8, count: 32)))
    }

    @Test func unquotedAndOddlySpacedBoundaryParameters() {
        let message = Self.lines([
            "Content-Type: multipart/mixed (comment; boundary=no) ; charset=x;",
            " boundary = abc ; other=1",
            "",
            "preamble --abc stays",
            "--abc",
            "",
            "one",
            "--abc  \t",
            "",
            "two",
            "--abc--",
            "epilogue",
        ])
        let (output, rewrites, _) = walk(message)
        let new = Self.new("abc")
        #expect(output.contains(Self.lines([
            "Content-Type: multipart/mixed (comment; boundary=no) ; charset=x;",
            " boundary = \"\(new)\" ; other=1",
        ])))
        #expect(body(output) == Self.lines([
            "preamble --abc stays", "--\(new)", "", "one", "--\(new)  \t", "", "two", "--\(new)--", "epilogue",
        ]))
        #expect(rewrites == 4)
    }

    static let forwarded = lines([
        "From: Alice <alice@contoso.com>",
        "To: bob@fabrikam.example",
        "Subject: FW: internal",
        "Message-ID: <aaaa@EXCH03.corp.internal>",
        "Content-Type: multipart/mixed; boundary=\"_002_aaaaEXCH03corpinternal_\"",
        "",
        "--_002_aaaaEXCH03corpinternal_",
        "Content-Type: text/plain",
        "",
        "Forwarding.",
        "--_002_aaaaEXCH03corpinternal_",
        "Content-Type: message/rfc822",
        "Content-Disposition: attachment",
        "",
        "Received: from EXCH04.corp.internal (10.20.30.44) by EXCH03.corp.internal",
        " (10.20.30.43) with Microsoft SMTP Server id 15.1.2507.6",
        "X-MS-Exchange-Organization-AuthSource: EXCH04.corp.internal",
        "X-Originating-IP: [10.20.30.99]",
        "From: Carol <carol@contoso.com>",
        "Subject: figures",
        "Message-ID: <bbbb@EXCH04.corp.internal>",
        "Content-Type: multipart/alternative; boundary=\"_000_bbbbEXCH04corpinternal_\"",
        "",
        "--_000_bbbbEXCH04corpinternal_",
        "Content-Type: text/plain",
        "",
        "Numbers.",
        "--_000_bbbbEXCH04corpinternal_--",
        "",
        "--_002_aaaaEXCH03corpinternal_--",
    ])

    @Test func embeddedMessageHeaderIsScrubbed() {
        let (output, rewrites, skipped) = walk(Self.forwarded)
        for secret in ["EXCH03", "EXCH04", "10.20.30", "15.1.2507", "corpinternal", "corp.internal"] {
            #expect(!output.contains(secret), "\(secret) left in the output")
        }
        #expect(!output.contains("X-MS-Exchange") && !output.contains("X-Originating-IP"))
        #expect(output.contains("\r\n\r\nFrom: Carol <carol@contoso.com>\r\nSubject: figures\r\nMessage-ID: <"))
        // Nothing added to the embedded header: one Date (the message's) and one
        // Received (Veil's own trace field).
        #expect(output.components(separatedBy: "\r\nDate: ").count == 2)
        #expect(output.components(separatedBy: "Received:").count == 2)
        #expect(body(output).contains("Numbers.\r\n--\(Self.new("_000_bbbbEXCH04corpinternal_"))--\r\n"))
        // Top: 1 parameter, 3 delimiters; embedded: 3 fields removed, 1 id mapped,
        // 1 parameter, 2 delimiters.
        #expect(rewrites == 1 + 3 + 4 + 1 + 2)
        #expect(skipped == nil)
    }

    @Test func allowlistAppliesToPartsAndAttachedMessages() {
        let message = Self.lines([
            "From: a@corp.example",
            "Content-Type: multipart/mixed; boundary=b",
            "",
            "--b",
            "Content-Type: text/plain",
            "X-Attachment-Server: APP07.corp.example",
            "Content-Disposition: inline",
            "",
            "text",
            "--b",
            "Content-Type: message/rfc822",
            "",
            "X-ClientProxiedBy: EXCAS01.corp.example (10.1.2.3) To EXMBX02.corp.example (10.1.2.4)",
            "From: carol@corp.example",
            "List-Id: <news.corp.example>",
            "Received-SPF: None (EXMBX02.corp.example: carol@corp.example)",
            "",
            "attached body",
            "--b--",
        ])
        let (output, rewrites, _) = walk(message, configuration: MessageRewriterTests.configuration(mode: .allowlist))
        #expect(!output.contains("APP07") && !output.contains("EXCAS01") && !output.contains("EXMBX02"))
        #expect(body(output).contains("Content-Type: text/plain\r\nContent-Disposition: inline\r\n\r\ntext\r\n"))
        #expect(body(output).contains("\r\n\r\nFrom: carol@corp.example\r\nList-Id: <news.corp.example>\r\n\r\nattached body\r\n"))
        // 1 parameter, 3 delimiters, 1 part field, 2 attached-message fields.
        #expect(rewrites == 1 + 3 + 1 + 2)
    }

    @Test func embeddedMessagesCanBeLeftAlone() {
        var configuration = MessageRewriterTests.configuration()
        configuration.scrubEmbeddedMessages = false
        let (output, _, _) = walk(Self.forwarded, configuration: configuration)
        // The embedded message passes as it is, its own boundaries included; the
        // enclosing message's boundaries are replaced.
        let embedded = Self.forwarded.components(separatedBy: "attachment\r\n\r\n")[1]
            .components(separatedBy: "\r\n--_002_")[0]
        #expect(output.contains(embedded))
        #expect(!output.contains("_002_aaaa"))
    }

    @Test func digestPartsAreMessagesByDefault() {
        let message = Self.lines([
            "Content-Type: multipart/digest; boundary=d",
            "",
            "--d",
            "",
            "Received: from EXCH04.corp.internal",
            "Subject: one",
            "",
            "text",
            "--d--",
        ])
        let (output, _, _) = walk(message)
        #expect(!output.contains("EXCH04"))
        #expect(body(output).contains("\r\n\r\nSubject: one\r\n\r\ntext\r\n"))
    }

    @Test func textRFC822HeadersPartIsScrubbed() {
        let message = Self.lines([
            "Content-Type: multipart/report; report-type=delivery-status; boundary=r",
            "",
            "--r",
            "Content-Type: text/rfc822-headers",
            "",
            "Received: from EXCH04.corp.internal",
            "X-Mailer: Microsoft Outlook 16.0",
            "Subject: lost",
            "",
            "--r--",
        ])
        let (output, rewrites, _) = walk(message)
        #expect(!output.contains("EXCH04") && !output.contains("Outlook"))
        #expect(body(output).contains("text/rfc822-headers\r\n\r\nSubject: lost\r\n\r\n--"))
        #expect(rewrites == 1 + 2 + 2)
    }

    /// Missing close delimiter, a boundary that never appears, a part without its
    /// empty line, an enclosing delimiter ending an inner multipart, LF line ends: no
    /// byte lost, every recognised delimiter rewritten.
    @Test func malformedStructureLosesNothing() {
        let message = "Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
            + "--outer\n"
            + "Content-Type: multipart/alternative; boundary=inner\r\n"
            + "--inner\r\n"
            + "Content-Type: multipart/related; boundary=never\r\n\r\n"
            + "text\n"
            + "--outer\r\n"
            + "Content-Type: text/plain\r\n"
            + "no empty line, no end"
        let (output, rewrites, _) = walk(message)
        #expect(body(Self.restore(output, ["outer", "inner", "never"])) == body(message))
        #expect(!body(output).contains("--outer") && !body(output).contains("--inner"))
        #expect(rewrites == 3 + 3)
    }

    @Test func aDelimiterAtTheVeryEndWithoutLineEnd() {
        let (output, _, _) = walk("Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nx\r\n--z--")
        #expect(output.hasSuffix("x\r\n--\(Self.new("z"))--"))
    }

    @Test func nestingBeyondTheLimitPassesUntouched() {
        let depth = 40
        var message = "Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
        for level in 1..<depth {
            message += "--b\(level)\r\nContent-Type: multipart/mixed; boundary=b\(level + 1)\r\n\r\n"
        }
        message += "--b\(depth)\r\n\r\ndeep\r\n"
        for level in stride(from: depth, through: 1, by: -1) { message += "--b\(level)--\r\n" }
        let (output, _, skipped) = walk(message)
        #expect(skipped == MIMEWalker.Skipped.depth.description)
        // b1...b32 belong to multiparts at levels 1...32 and are rewritten; the part
        // at level 33 is not read, so b33 and deeper stay.
        for level in 1...32 { #expect(!output.contains("--b\(level)\r\n"), "level \(level)") }
        #expect(output.contains("--b33\r\n") && output.contains("--b33--\r\n"))
        #expect(body(Self.restore(output, (1...32).map { "b\($0)" })) == body(message))
    }

    @Test func partHeaderBlockOverTheLimitPassesAsItWas() {
        let configuration = MessageRewriterTests.configuration(maximumHeaderSize: 4096)
        let long = String(repeating: "x", count: 5000)
        let message = Self.lines(["Content-Type: multipart/mixed; boundary=q", "", "--q", "X-Long: \(long)", "", "body", "--q--"])
        let (output, _, skipped) = walk(message, configuration: configuration)
        #expect(skipped == MIMEWalker.Skipped.headerSize.description)
        #expect(body(output) == body(message).replacingOccurrences(of: "--q", with: "--\(Self.new("q"))"))
    }

    @Test func aLongLineStartingWithDashesIsBodyText() {
        let dashes = "--" + String(repeating: "-", count: 3000)
        let message = Self.lines(["Content-Type: multipart/mixed; boundary=q", "", "--q", "", dashes, "--q--"])
        let (output, _, _) = walk(message)
        #expect(body(output) == Self.lines(["--\(Self.new("q"))", "", dashes, "--\(Self.new("q"))--"]))
    }

    /// Found by the fuzzer: a quoted pair at the very end of an unclosed comment.
    @Test func aCommentEndingInABackslashIsNoBoundary() {
        let message = "Content-Type: multipart/alternative;(boundary=\\\\\\\r\n\r\n--x\r\n"
        let (output, rewrites, _) = walk(message)
        #expect(body(output) == "--x\r\n")
        #expect(rewrites == 0)
    }

    /// RFC 1847: the signed part is covered byte for byte by the signature.
    @Test func signedPartsAreLeftIntact() {
        let signedPart = Self.lines([
            "Content-Type: multipart/alternative; boundary=\"_000_aaaaEXCH03corpinternal_\"",
            "",
            "--_000_aaaaEXCH03corpinternal_",
            "Content-Type: text/plain",
            "",
            "signed text",
            "--_000_aaaaEXCH03corpinternal_--",
        ])
        let message = Self.lines([
            "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=s",
            "",
            "--s",
        ]) + signedPart + Self.lines([
            "--s",
            "Content-Type: application/pkcs7-signature; name=smime.p7s",
            "Content-Transfer-Encoding: base64",
            "",
            "MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCCA",
            "--s--",
        ])
        let (output, rewrites, skipped) = walk(message)
        #expect(output.contains("\r\n\r\n--\(Self.new("s"))\r\n" + signedPart + "--\(Self.new("s"))\r\n"))
        #expect(output.hasSuffix("--\(Self.new("s"))--\r\n"))
        #expect(rewrites == 1 + 3)
        #expect(skipped == MIMEWalker.Skipped.signed.description)
    }

    /// Outlook Express style, unquoted with `=` in it: read up to the `;` as MIME
    /// parsers do.
    @Test func unquotedBoundaryWithEqualsSign() {
        let message = Self.lines([
            "Content-Type: multipart/mixed; boundary=----=_NextPart_000_0001 ; x=1",
            "",
            "------=_NextPart_000_0001",
            "",
            "a",
            "------=_NextPart_000_0001--",
        ])
        let (output, rewrites, _) = walk(message)
        let new = Self.new("----=_NextPart_000_0001")
        #expect(output.contains("boundary=\"\(new)\" ; x=1\r\n"))
        #expect(body(output) == Self.lines(["--\(new)", "", "a", "--\(new)--"]))
        #expect(rewrites == 3)
    }

    /// A part header block that reaches the size limit in the middle of a delimiter
    /// line: the delimiter is rewritten wherever the chunks were split.
    @Test func headerLimitReachedInsideADelimiterLine() {
        let configuration = MessageRewriterTests.configuration(maximumHeaderSize: 4096)
        // 4 093 bytes of fields, then the 7 bytes of "--q--\r\n": over 4 096 at its 4th byte.
        let fields = (0..<81).map { _ in "X-Filler: " + String(repeating: "y", count: 38) } + ["X-Pad: " + String(repeating: "y", count: 34)]
        #expect(fields.joined(separator: "\r\n").utf8.count + 2 == 4093)
        let message = Self.lines(["Content-Type: multipart/mixed; boundary=q", "", "--q"] + fields + ["--q--"])
        let (output, _, skipped) = walk(message, configuration: configuration)
        #expect(skipped == MIMEWalker.Skipped.headerSize.description)
        #expect(output.hasSuffix("--\(Self.new("q"))--\r\n"))
        #expect(!output.contains("--q"))
    }

    /// BDAT text need not end in CRLF: the last line is read like any other.
    @Test func theLastLineWithoutLineEndEndsAPartHeader() {
        let message = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n--b--"
        let (output, rewrites, skipped) = walk(message)
        #expect(body(output) == "--\(Self.new("b"))\r\nContent-Type: text/plain\r\n--\(Self.new("b"))--")
        #expect(rewrites == 3)
        #expect(skipped == nil)
    }

    @Test func mboxFromLineBeforeAnAttachedMessage() {
        let message = Self.lines([
            "Content-Type: multipart/mixed; boundary=m",
            "",
            "--m",
            "Content-Type: message/rfc822",
            "",
            "From carol@contoso.com Mon Nov 30 09:00:00 2026",
            "Received: from EXCH04.corp.internal",
            "Subject: s",
            "",
            "t",
            "--m--",
        ])
        let (output, _, _) = walk(message)
        #expect(!output.contains("EXCH04"))
        #expect(body(output).contains("\r\n\r\nFrom carol@contoso.com Mon Nov 30 09:00:00 2026\r\nSubject: s\r\n\r\nt\r\n"))
    }

    /// Found by the fuzzer: a quoted boundary without its closing quote must not
    /// swallow the field's line end (the body would become part of the header block).
    @Test func unterminatedQuotedBoundaryKeepsTheLineEnd() {
        let message = "Content-Type: multipart/mixed; boundary=\"abc\r\n\r\nReceived: from x\r\n"
        let (output, _, _) = walk(message)
        #expect(output.contains("boundary=\"\(Self.new("abc"))\"\r\n"))
        #expect(body(output) == "Received: from x\r\n")
    }

    @Test func aPlainMessageIsNotTouched() {
        let message = Self.lines(["Subject: x", "", "--not a boundary", "text"])
        let (output, rewrites, _) = walk(message)
        #expect(body(output) == body(message))
        #expect(rewrites == 0)
    }
}
