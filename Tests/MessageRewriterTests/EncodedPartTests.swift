import Testing
@testable import MessageRewriter

/// Parts whose content Veil decodes, rewrites and encodes again (issue 12): calendar
/// PRODIDs, attached messages sent base64 or quoted-printable (inside one another,
/// with LF line ends, in a digest, with a header block the walker cannot read), big
/// attachments beside them. Cases the end-to-end suite used to send through the
/// daemon; Tests/e2e/test_mime_content.py keeps a meeting request and the encoded
/// attached messages as its round trips.
@Suite struct EncodedPartTests {
    typealias Parts = ExchangeParts

    static let allowlist = Rewriting.configuration(.allowlist)

    /// The one part of `rewritten` at `index` below the top-level multipart.
    static func part(_ rewritten: Rewritten, _ boundary: String, _ index: Int) throws -> [UInt8] {
        let parts = MIMEReading.parts(rewritten.body, boundary: Keyed.boundary(boundary))
        return try #require(parts.indices.contains(index) ? parts[index] : nil)
    }

    // MARK: Calendars

    /// `PRO` CRLF ` DID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN` is one
    /// content line (RFC 5545 3.1 folds anywhere): replaced like an unfolded one.
    @Test(arguments: [(0, "7bit"), (0, "base64"), (1, "base64"), (1, "quoted-printable")])
    func aProductIDFoldedInsideItsNameIsReplaced(folding: Int, encoding: String) throws {
        let calendar = Parts.calendar(Parts.nameFoldedProductIDs[folding])
        let text = Parts.textPart("The meeting for Q1.\n")
        let calendarPart = Parts.calendarPart(calendar, encoding: encoding)
        let (message, boundary) = Parts.mixed("calendar folded \(folding) \(encoding)", [text, calendarPart])
        let rewritten = Rewriting.run(message, Self.allowlist)
        #expect(try Self.part(rewritten, boundary, 0) == Array(text.dropLast(2)))
        let part = try Self.part(rewritten, boundary, 1)
        // The part's header block and transfer encoding stay; decoded, only the PRODID changed.
        #expect(MIMEReading.entity(part).header == MIMEReading.entity(calendarPart).header)
        let decoded = MIMEReading.decoded(part)
        #expect(decoded == Parts.replacingProductID(calendar))
        #expect(decoded.occurrences(of: Parts.veilProductID) == 1 && decoded.leaked(Parts.calendarSecrets) == [])
        let content = MIMEReading.entity(part).content
        if encoding == "base64" { #expect(MIMEReading.isBase64Lines(content)) }
        if encoding == "quoted-printable" { #expect(MIMEReading.isQuotedPrintable(content)) }
    }

    /// A message that is only a calendar (a meeting response from Outlook).
    @Test(arguments: ["base64", "7bit", "quoted-printable"])
    func aTopLevelCalendarsProductIDIsReplaced(encoding: String) {
        let calendar = Parts.calendar(Parts.outlookProductID, method: "REPLY")
        let content = encoding == "7bit" ? calendar : Parts.encoded(calendar, encoding)
        let message = Parts.message("Accepted: Q1 planning", tag: Parts.tag(encoding), contentType: [UInt8](
            "Content-Type: text/calendar; charset=\"utf-8\"; method=REPLY\r\nContent-Transfer-Encoding: \(encoding)"), body: content)
        let rewritten = Rewriting.run(message, Self.allowlist)
        #expect(MIMEReading.transferEncoding(MIMEReading.entity(rewritten.output).header) == encoding)
        // Decoded as a mail program reads it: the content up to its last line end.
        let decoded = MIMEReading.decoded(Array(rewritten.output.dropLast(2)))
        #expect(decoded == Parts.replacingProductID(MIMEReading.decoded(Array(message.dropLast(2)))))
        #expect(rewritten.output.leaked(Parts.calendarSecrets) == [] && decoded.leaked(Parts.calendarSecrets) == [])
    }

    /// A 2 MB base64 attachment next to a meeting request, fed in chunks: the
    /// attachment passes byte for byte, the calendar gets Veil's PRODID.
    @Test func aBigAttachmentNextToACalendar() throws {
        let attachment = Parts.attachmentPart("application/octet-stream", name: "backup.img",
                                              data: SplitMix64.bytes(2 * 1024 * 1024, seed: 20231120))
        let text = Parts.textPart("The backup image and the meeting.\n")
        let (message, boundary) = Parts.mixed("big attachment and a meeting",
                                              [text, Parts.calendarPart(Parts.calendar(Parts.outlookProductID), encoding: "base64"), attachment])
        let rewritten = Rewriting.run(message, Self.allowlist)
        #expect(try Self.part(rewritten, boundary, 2) == Array(attachment.dropLast(2)))
        #expect(MIMEReading.decoded(try Self.part(rewritten, boundary, 1)) == Parts.replacingProductID(Parts.calendar(Parts.outlookProductID)))
    }

    // MARK: Attached messages

    /// An encoded attached message inside an encoded attached message (quoted-printable
    /// around base64): both header blocks scrubbed, both encodings kept, the innermost
    /// parts intact.
    @Test func anEncodedAttachedMessageInsideAnother() throws {
        let level2 = "dbl-level2-1"
        let innerText = Parts.textPart("Dave,\n\nsee below.\n")
        let double = Parts.innerHeader(Parts.multipartType("mixed", level2), subject: "FW: Northwind figures")
            + Parts.multipartBody(level2, [innerText, Parts.encodedMessagePart(Parts.innerMessage(), encoding: "base64")])
        let (message, boundary) = Parts.mixed("FW: double", [Parts.textPart("See the attached message.\n"),
                                                             Parts.encodedMessagePart(double, encoding: "quoted-printable")])
        let part = try Self.part(Rewriting.run(message, Self.allowlist), boundary, 1)
        #expect(MIMEReading.transferEncoding(MIMEReading.entity(part).header) == "quoted-printable")
        #expect(MIMEReading.isQuotedPrintable(MIMEReading.entity(part).content))
        let outer = MIMEReading.decoded(part)
        Parts.expectScrubbed(attached: outer, "the outer attached message")
        let innermostPart = try #require(MIMEReading.parts(MIMEReading.entity(outer).content, boundary: Keyed.boundary(level2)).last)
        let innermost = MIMEReading.decoded(innermostPart)
        Parts.expectScrubbed(attached: innermost, "the innermost attached message")
        #expect(MIMEReading.entity(innermost).content == MIMEReading.entity(Parts.innerMessage()).content
            .replacing(Parts.innerAlternative, with: Keyed.boundary(Parts.innerAlternative)))
    }

    /// An attached message written with LF line ends inside base64 (by a program on
    /// a Unix host), and one carrying a 1 MB attachment (decoded and encoded again in
    /// pieces, far larger than any buffer): both scrubbed.
    @Test(arguments: ["lf-only", "large"])
    func anEncodedAttachedMessageWithLFLineEndsOrABigAttachment(kind: String) throws {
        let big = "big-inner-1"
        let backup = Parts.attachmentPart("application/octet-stream", name: "backup.img", data: SplitMix64.bytes(1024 * 1024, seed: 1118))
        let inner = kind == "lf-only"
            ? Parts.innerMessage().replacing("\r\n", with: "\n")
            : Parts.innerHeader(Parts.multipartType("mixed", big), subject: "Northwind backup")
                + Parts.multipartBody(big, [Parts.textPart("The backup.\n"), backup])
        let (message, boundary) = Parts.mixed("FW: \(kind)", [Parts.textPart("See the attached message.\n"),
                                                              Parts.encodedMessagePart(inner, encoding: "base64")])
        let part = try Self.part(Rewriting.run(message, Self.allowlist), boundary, 1)
        #expect(MIMEReading.isBase64Lines(MIMEReading.entity(part).content))
        let decoded = MIMEReading.decoded(part)
        Parts.expectScrubbed(attached: decoded, kind)
        if kind == "large" {
            let parts = MIMEReading.parts(MIMEReading.entity(decoded).content, boundary: Keyed.boundary(big))
            #expect(parts.count == 2 && parts.last == Array(backup.dropLast(2)))
        } else {
            let body = MIMEReading.entity(decoded.replacing("\r\n", with: "\n").replacing("\n", with: "\r\n")).content
            #expect(body == MIMEReading.entity(Parts.innerMessage()).content
                .replacing(Parts.innerAlternative, with: Keyed.boundary(Parts.innerAlternative)))
        }
    }

    /// RFC 2046 5.1.5: in a multipart/digest a part without Content-Type is a
    /// message/rfc822, also when it is sent base64 or quoted-printable; a digest part
    /// typed text/plain is text, byte for byte.
    @Test(arguments: MIMEContractTests.modes)
    func encodedDigestPartsWithoutContentTypeAreMessages(mode: ScrubRules.Mode) throws {
        let inner = Parts.innerMessage()
        let parts = [[UInt8]("Content-Transfer-Encoding: base64\r\n\r\n") + Parts.base64Lines(inner),
                     [UInt8]("Content-Transfer-Encoding: quoted-printable\r\n\r\n") + Parts.quotedPrintable(inner) + [13, 10],
                     [UInt8]("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n") + Parts.base64Lines(inner)]
        let tag = "d19e5700d19e5700d19e5700d19e5700"
        let boundary = Parts.boundary(tag)
        let message = Parts.message("FW: digest", tag: tag, contentType: Parts.multipartType("digest", boundary),
                                    body: Parts.multipartBody(boundary, parts))
        let rewritten = Rewriting.run(message, Rewriting.configuration(mode))
        for index in 0...1 {
            let part = try Self.part(rewritten, boundary, index)
            #expect(MIMEReading.entity(part).header == MIMEReading.entity(parts[index]).header)
            let content = MIMEReading.entity(part).content
            #expect(index == 0 ? MIMEReading.isBase64Lines(content) : MIMEReading.isQuotedPrintable(content))
            let decoded = MIMEReading.decoded(part)
            Parts.expectScrubbed(attached: decoded, "digest part \(index)")
            #expect(MIMEReading.entity(decoded).content == MIMEReading.entity(inner).content
                .replacing(Parts.innerAlternative, with: Keyed.boundary(Parts.innerAlternative)))
        }
        #expect(try Self.part(rewritten, boundary, 2) == Array(parts[2].dropLast(2)))
    }

    /// A base64 attached message whose header block the walker cannot read: it starts
    /// with a continuation line (malformed), or ends at a line that is no field. The
    /// allowlist refuses the message; the denylist passes it, read up to that line.
    @Test(arguments: MIMEContractTests.modes)
    func anEncodedAttachedMessageWithAnUnreadableHeaderBlock(mode: ScrubRules.Mode) throws {
        let malformed = [UInt8](" folded, with no field above it\r\n") + Parts.innerMessage()
        let endedByText = Parts.innerMessage().replacing("Subject: Northwind figures\r\n", with: "Subject: Northwind figures\r\nnot a field\r\n")
        for (inner, isMalformed) in [(malformed, true), (endedByText, false)] {
            let (message, boundary) = Parts.mixed("unreadable \(isMalformed)", [Parts.textPart("See the attached message.\n"),
                                                                                 Parts.encodedMessagePart(inner, encoding: "base64")])
            let rewritten = Rewriting.run(message, Rewriting.configuration(mode))
            guard mode == .denylist else {
                #expect(rewritten.rejection == .unreadableMIME)
                continue
            }
            #expect((rewritten.skipped != nil) == isMalformed)
            let decoded = MIMEReading.decoded(try Self.part(rewritten, boundary, 1))
            if isMalformed {
                #expect(decoded == inner)
            } else {
                // Read up to the line: the fields above it scrubbed, the rest is body text.
                #expect(decoded.starts(with: [UInt8]("From: Dave Novak")) && decoded.has("\r\nnot a field\r\n"))
            }
        }
    }
}
