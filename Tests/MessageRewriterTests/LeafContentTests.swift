import Foundation
import NIOCore
import Testing
@testable import MessageRewriter

/// Leaf parts whose content Veil reads: TNEF refused or removed, calendar PRODIDs
/// replaced, encoded attached messages scrubbed, everything else passed byte for
/// byte; the same output for every split of the input.
@Suite struct LeafContentTests {
    let walker = MIMEWalkerTests()
    let rewriter = MessageRewriterTests()

    static let tnefBytes: [UInt8] = TNEF.signature + [0x01, 0x06, 0x90, 0x08, 0x00]
        + Array("/O=CONTOSO/OU=EXCHANGE ADMINISTRATIVE GROUP (FYDIBOHF23SPDLT)/CN=RECIPIENTS/CN=ALICE EXMBX02.corp.example".utf8)
    static let tnefBase64 = Data(tnefBytes).base64EncodedString(options: .lineLength76Characters)
        .replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")

    static func message(_ attachment: [String]) -> String {
        MIMEWalkerTests.lines([
            "From: alice@corp.example",
            "Content-Type: multipart/mixed; boundary=b",
            "",
            "--b",
            "Content-Type: text/plain",
            "",
            "See the attachment.",
            "--b",
        ] + attachment + ["--b--"])
    }

    static func configuration(tnef: ScrubConfiguration.TNEFPolicy) -> ScrubConfiguration {
        var configuration = MessageRewriterTests.configuration(mode: .allowlist)
        configuration.tnef = tnef
        return configuration
    }

    static let declaredByType = ["Content-Type: application/ms-tnef", "Content-Transfer-Encoding: base64", "", tnefBase64]
    static let declaredByName = ["Content-Type: application/octet-stream", "Content-Disposition: attachment; filename=\"WINMAIL.DAT\"",
                                 "Content-Transfer-Encoding: base64", "", tnefBase64]
    static let foundByContent = ["Content-Type: application/octet-stream; name=\"data.bin\"", "Content-Transfer-Encoding: base64", "",
                                 tnefBase64]
    static let foundInQuotedPrintable = ["Content-Type: application/octet-stream", "Content-Transfer-Encoding: quoted-printable", "",
                                         "x=9F>\"=01=06 rest"]

    @Test(arguments: [declaredByType, declaredByName, foundByContent, foundInQuotedPrintable])
    func tnefIsRefusedByDefault(attachment: [String]) {
        #expect(rewriter.everySplit(Self.message(attachment), configuration: Self.configuration(tnef: .reject)) == .failure(.tnef))
    }

    @Test(arguments: [declaredByType, declaredByName, foundByContent, foundInQuotedPrintable])
    func tnefPartIsRemovedWithItsDelimiter(attachment: [String]) {
        let (output, _, _) = walker.walk(Self.message(attachment), configuration: Self.configuration(tnef: .remove))
        let new = MIMEWalkerTests.new("b")
        #expect(walker.body(output) == MIMEWalkerTests.lines(["--\(new)", "Content-Type: text/plain", "", "See the attachment.", "--\(new)--"]))
        var whole = MessageRewriter(configuration: Self.configuration(tnef: .remove), context: MessageRewriterTests.context)
        var buffers: [ByteBuffer] = []
        try? whole.process(ByteBuffer(string: Self.message(attachment)), into: &buffers)
        try? whole.finish(into: &buffers)
        #expect(whole.tnefRemoved == 1)
    }

    @Test func tnefInBinaryIsFound() {
        var bytes = Array(Self.message(["Content-Type: application/octet-stream", "Content-Transfer-Encoding: binary", "", "TNEF"]).utf8)
        let at = bytes.firstRange(of: Array("TNEF".utf8))!
        bytes.replaceSubrange(at, with: Self.tnefBytes)
        #expect(MessageRewriterTests.rewrite(bytes, splits: [], configuration: Self.configuration(tnef: .reject)) == .failure(.tnef))
        #expect(MessageRewriterTests.rewrite(bytes, splits: Array(0..<bytes.count), configuration: Self.configuration(tnef: .reject))
            == .failure(.tnef))
    }

    @Test func aMessageThatIsAllTNEFIsRefusedEvenWhenPartsAreRemoved() {
        let message = "From: a@corp.example\r\nContent-Type: application/ms-tnef\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + Self.tnefBase64 + "\r\n"
        #expect(rewriter.everySplit(message, configuration: Self.configuration(tnef: .remove)) == .failure(.tnef))
        let sniffed = "From: a@corp.example\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + Self.tnefBase64 + "\r\n"
        #expect(rewriter.everySplit(sniffed, configuration: Self.configuration(tnef: .remove)) == .failure(.tnef))
    }

    @Test func otherAttachmentsPassByteForByte() {
        let pdf = Data((0..<3000).map { UInt8(truncatingIfNeeded: $0 * 7) }).base64EncodedString(options: .lineLength76Characters)
            .replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        let message = Self.message(["Content-Type: application/pdf; name=\"report.pdf\"", "Content-Transfer-Encoding: base64", "", pdf])
        let (output, _, _) = walker.walk(message, configuration: Self.configuration(tnef: .remove))
        #expect(walker.body(output) == walker.body(message).replacingOccurrences(of: "--b", with: "--\(MIMEWalkerTests.new("b"))"))
        // Short parts too, and a part that ends the message without its close delimiter.
        let short = "From: a@x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nxy\r\n--b\r\n\r\nx"
        #expect(walker.body(walker.walk(short).output) == short.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
            .replacingOccurrences(of: "--b", with: "--\(MIMEWalkerTests.new("b"))"))
    }

    static let outlookCalendar = MIMEWalkerTests.lines([
        "BEGIN:VCALENDAR",
        "METHOD:REQUEST",
        "PRODID:Microsoft Exchange Server 2010",
        "VERSION:2.0",
        "BEGIN:VEVENT",
        "ORGANIZER;CN=Alice:mailto:alice@corp.example",
        "SUMMARY;LANGUAGE=en-US:Q3 review \u{e9}",
        "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE",
        "END:VEVENT",
        "END:VCALENDAR",
    ])
    static let veilCalendar = outlookCalendar.replacingOccurrences(of: "PRODID:Microsoft Exchange Server 2010", with: "PRODID:-//Veil//Veil//EN")

    func calendarPart(_ output: String) -> String {
        let body = walker.body(output)
        let start = body.range(of: "text/calendar")!.upperBound
        let content = body[start...].range(of: "\r\n\r\n")!.upperBound
        let end = body.range(of: "\r\n--\(MIMEWalkerTests.new("b"))--")!.lowerBound
        return String(body[content..<end]) + "\r\n"
    }

    @Test func calendarProductIDInEveryEncoding() throws {
        let plain = walker.walk(Self.message(["Content-Type: text/calendar; method=REQUEST", "", Self.outlookCalendar]))
        #expect(calendarPart(plain.output) == Self.veilCalendar + "\r\n")

        let qp = ContentCodingTests.encodeQP(Array(Self.outlookCalendar.utf8))
        let quoted = walker.walk(Self.message(["Content-Type: text/calendar; charset=utf-8", "Content-Transfer-Encoding: quoted-printable", "",
                                                String(decoding: qp, as: UTF8.self)]))
        #expect(ContentCodingTests.decodeQP(Array(calendarPart(quoted.output).utf8)) == Array((Self.veilCalendar + "\r\n").utf8))

        let base64 = Data(Self.outlookCalendar.utf8).base64EncodedString(options: .lineLength64Characters)
        let encoded = walker.walk(Self.message(["Content-Type: text/calendar", "Content-Transfer-Encoding: base64", "", base64]))
        let part = calendarPart(encoded.output)
        #expect(ContentCodingTests.decodeBase64(part, splits: []) == Array(Self.veilCalendar.utf8))
        #expect(part.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 76 })
        for output in [plain.output, quoted.output, encoded.output] {
            #expect(!output.contains("Exchange Server"))
        }
        // One PRODID replaced, one parameter and three delimiters.
        #expect(plain.rewrites == 1 + 3 + 1)
    }

    static let forwardedHeader = MIMEWalkerTests.lines([
        "Received: from EXCH04.corp.internal (10.20.30.44) by EXCH03.corp.internal (10.20.30.43)",
        "X-MS-Exchange-Organization-AuthSource: EXCH04.corp.internal",
        "From: Carol <carol@corp.example>",
        "Subject: figures",
        "Message-ID: <cccc@EXCH04.corp.internal>",
        "Content-Type: multipart/alternative; boundary=\"_000_ccccEXCH04corpinternal_\"",
        "",
        "--_000_ccccEXCH04corpinternal_",
        "Content-Type: text/plain",
        "",
        "Numbers.",
        "--_000_ccccEXCH04corpinternal_--",
    ])

    @Test(arguments: ["base64", "quoted-printable"])
    func encodedAttachedMessagesAreScrubbedAndEncodedAgain(encoding: String) {
        let encoded = encoding == "base64"
            ? Array(Data(Self.forwardedHeader.utf8).base64EncodedString(options: .lineLength76Characters).utf8)
            : ContentCodingTests.encodeQP(Array(Self.forwardedHeader.utf8))
        let text = String(decoding: encoded, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
            .replacingOccurrences(of: "\n", with: "\r\n")
        let message = Self.message(["Content-Type: message/rfc822", "Content-Transfer-Encoding: \(encoding)", "", text])
        let (output, rewrites, _) = walker.walk(message, configuration: MessageRewriterTests.configuration(mode: .allowlist))
        let body = walker.body(output)
        let start = body.range(of: "Content-Transfer-Encoding: \(encoding)\r\n\r\n")!.upperBound
        let end = body.range(of: "--\(MIMEWalkerTests.new("b"))--")!.lowerBound
        let part = Array(body[start..<end].utf8)
        let decoded = String(decoding: encoding == "base64" ? ContentCodingTests.decodeBase64(String(decoding: part, as: UTF8.self), splits: [])
                                                             : ContentCodingTests.decodeQP(part), as: UTF8.self)
        for secret in ["EXCH", "10.20.30", "X-MS-Exchange", "corpinternal", "cccc"] {
            #expect(!decoded.contains(secret), "\(secret) left in the attached message")
        }
        let inner = MIMEWalkerTests.new("_000_ccccEXCH04corpinternal_")
        #expect(decoded.hasPrefix("From: Carol <carol@corp.example>\r\nSubject: figures\r\nMessage-ID: <"))
        #expect(decoded.contains("boundary=\"\(inner)\"\r\n\r\n--\(inner)\r\nContent-Type: text/plain\r\n\r\nNumbers.\r\n--\(inner)--"))
        // Outer: 1 parameter, 3 delimiters; attached: 2 fields removed, 1 id, 1 parameter, 2 delimiters.
        #expect(rewrites == 4 + 6)
    }

    // MARK: Found in review

    @Test func removingEveryPartOfAMultipartRefusesTheMessage() {
        let only = MIMEWalkerTests.lines(["From: a@corp.example", "Content-Type: multipart/mixed; boundary=b", "", "--b"]
            + Self.declaredByType + ["--b--"])
        #expect(rewriter.everySplit(only, configuration: Self.configuration(tnef: .remove)) == .failure(.tnef))
        let nested = MIMEWalkerTests.lines(["From: a@corp.example", "Content-Type: multipart/mixed; boundary=b", "", "--b",
                                            "Content-Type: text/plain", "", "text", "--b",
                                            "Content-Type: multipart/alternative; boundary=c", "", "--c"]
            + Self.foundByContent + ["--c--", "--b--"])
        #expect(rewriter.everySplit(nested, configuration: Self.configuration(tnef: .remove)) == .failure(.tnef))
        // Without its close delimiter too.
        let open = MIMEWalkerTests.lines(["From: a@corp.example", "Content-Type: multipart/mixed; boundary=b", "", "--b"]
            + Self.declaredByType)
        #expect(rewriter.everySplit(open, configuration: Self.configuration(tnef: .remove)) == .failure(.tnef))
    }

    @Test func tnefAfterTheLookaheadCannotBeRemovedSoItIsRefused() {
        let blank = Array(repeating: "", count: 2100)
        let late = Self.message(["Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64"] + blank + [Self.tnefBase64])
        #expect(rewriter.everySplit(late, configuration: Self.configuration(tnef: .reject)) == .failure(.tnef))
        #expect(rewriter.everySplit(late, configuration: Self.configuration(tnef: .remove)) == .failure(.tnef))
        let harmless = Self.message(["Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64"] + blank + ["AAAA"])
        #expect(walker.walk(harmless, configuration: Self.configuration(tnef: .remove)).output.hasSuffix("\r\nAAAA\r\n--\(MIMEWalkerTests.new("b"))--\r\n"))
    }

    /// Header blocks the walker cannot read are refused by the allowlist (they pass
    /// in denylist mode, with mime_skipped).
    @Test(arguments: [
        ["Content-Type: text/plain", " leading continuation? no: this follows a field", "", "ok"],
        [" x", "X-MS-Exchange-Organization-AuthSource: MBX02.ad.contoso.local", "Content-Type: application/ms-tnef", "", "eJ8+IhAAAQ=="],
        [":", "Content-Type: application/ms-tnef; name=\"winmail.dat\"", "", "eJ8+IhAAAQ=="],
        ["From x", "X-Originating-IP: [10.1.7.88]", "", "body"],
    ])
    func unreadablePartHeadersAreRefusedByTheAllowlist(part: [String]) {
        let message = Self.message(part)
        let allowlist = rewriter.everySplit(message, configuration: Self.configuration(tnef: .reject))
        if part[1].hasPrefix(" leading") {
            #expect((try? allowlist.get()) != nil)   // a real continuation line: fine
        } else {
            #expect(allowlist == .failure(.unreadableMIME))
        }
    }

    @Test func oversizeAndTooDeepAreRefusedByTheAllowlist() {
        var configuration = Self.configuration(tnef: .reject)
        configuration.maximumHeaderSize = 1024
        let big = Self.message(["Content-Type: text/plain", "X-Big: " + String(repeating: "x", count: 2000), "", "text"])
        #expect(rewriter.everySplit(big, configuration: configuration) == .failure(.unreadableMIME))
        var lines = ["From: a@corp.example", "Content-Type: multipart/mixed; boundary=b0", ""]
        for level in 1...33 { lines += ["--b\(level - 1)", "Content-Type: multipart/mixed; boundary=b\(level)", ""] }
        lines += ["--b33", "", "deep"]
        #expect(rewriter.everySplit(MIMEWalkerTests.lines(lines), configuration: Self.configuration(tnef: .reject)) == .failure(.unreadableMIME))
    }

    @Test func anEncodedDigestPartWithoutContentTypeIsAMessage() {
        let encoded = Data(Self.forwardedHeader.utf8).base64EncodedString(options: .lineLength76Characters)
        let message = MIMEWalkerTests.lines(["From: a@corp.example", "Content-Type: multipart/digest; boundary=d", "", "--d",
                                             "Content-Transfer-Encoding: base64", "", encoded, "--d--"])
        let (output, _, _) = walker.walk(message, configuration: MessageRewriterTests.configuration(mode: .allowlist))
        let start = output.range(of: "base64\r\n\r\n")!.upperBound
        let end = output.range(of: "--\(MIMEWalkerTests.new("d"))--")!.lowerBound
        let decoded = String(decoding: ContentCodingTests.decodeBase64(String(output[start..<end]), splits: []), as: UTF8.self)
        #expect(decoded.hasPrefix("From: Carol <carol@corp.example>\r\nSubject: figures\r\n") && !decoded.contains("EXCH"))
    }

    @Test func aProductIDFoldedInsideItsNameIsReplaced() {
        let calendar = "BEGIN:VCALENDAR\r\nPRO\r\n DID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\nVERSION:2.0\r\n"
            + "PROD\r\nX-A:1\r\nEND:VCALENDAR\r\n"
        let output = ContentCodingTests.run(CalendarProductID(), Array(calendar.utf8))
        #expect(String(decoding: output, as: UTF8.self)
            == "BEGIN:VCALENDAR\r\nPRODID:-//Veil//Veil//EN\r\nVERSION:2.0\r\nPROD\r\nX-A:1\r\nEND:VCALENDAR\r\n")
    }
}
