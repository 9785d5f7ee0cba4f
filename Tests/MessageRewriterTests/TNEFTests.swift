import Testing
@testable import MessageRewriter

/// TNEF (winmail.dat) in realistic Exchange messages: `tnef = "remove"` drops the
/// part wherever it is and passes the rest byte for byte; a message that would be
/// left with nothing (a body, a multipart or an attached message that is all TNEF,
/// TNEF found too late to take back) is refused in both modes. Cases the end-to-end
/// suite used to send through the daemon; Tests/e2e/test_mime_content.py keeps the
/// refusal with its SMTP reply as its round trip.
@Suite struct TNEFTests {
    typealias Parts = ExchangeParts

    static let remove = Rewriting.configuration(.allowlist, tnef: .remove)
    static let reject = Rewriting.configuration(.allowlist, tnef: .reject)
    static let text = Parts.textPart(Parts.plainText)
    static let pdf = Parts.attachmentPart("application/pdf", name: "pricelist.pdf", data: Parts.pdf)

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var parts: [[UInt8]]
        /// The indexes of the TNEF parts.
        var tnef: [Int]
        var testDescription: String { name }
    }

    static let octetStream = "application/octet-stream"

    static let removalCases: [Case] = [
        // Exchange 2016 to a remote domain with TNEFEnabled: text + winmail.dat.
        Case(name: "by type", parts: [text, Parts.tnefPart()], tnef: [1]),
        Case(name: "by vnd type", parts: [text, Parts.tnefPart("application/vnd.ms-tnef", name: "message.tnef"), pdf], tnef: [1]),
        // By the file name only (octet-stream, name= and filename= in any case).
        Case(name: "name only", parts: [text, Parts.tnefPart(octetStream, name: "WinMail.DAT"), pdf], tnef: [1]),
        Case(name: "content type name only", parts: [text, [UInt8]("Content-Type: application/octet-stream; name=\"winmail.dat\"\r\n"
             + "Content-Transfer-Encoding: base64\r\n\r\n") + Parts.base64Lines(Parts.winmail)], tnef: [1]),
        // By the content only: the signature at the start of the decoded bytes.
        Case(name: "content only base64", parts: [Parts.tnefPart(octetStream, name: "data.bin"), text], tnef: [0]),
        Case(name: "content only quoted-printable",
             parts: [text, Parts.tnefPart(octetStream, name: "data.bin", encoding: "quoted-printable")], tnef: [1]),
        Case(name: "content only binary", parts: [text, Parts.tnefPart(octetStream, name: "data.bin", encoding: "binary")], tnef: [1]),
        Case(name: "two parts", parts: [Parts.tnefPart(), text, Parts.tnefPart(octetStream, name: "x.bin"), pdf], tnef: [0, 2]),
        // Each rule on its own: the content does not start with the signature.
        Case(name: "type only", parts: [text, Parts.tnefPart(name: "message.bin", data: Parts.notTNEF)], tnef: [1]),
        Case(name: "type only without name", parts: [text, [UInt8]("Content-Type: Application/VND.MS-TNEF\r\n"
             + "Content-Transfer-Encoding: base64\r\n\r\n") + Parts.base64Lines(Parts.notTNEF)], tnef: [1]),
        Case(name: "name only, not TNEF content", parts: [text, Parts.tnefPart(octetStream, name: "winmail.dat", data: Parts.notTNEF)],
             tnef: [1]),
        Case(name: "unquoted filename only", parts: [text, [UInt8]("Content-Type: application/octet-stream\r\n"
             + "Content-Disposition: attachment; filename=WINMAIL.DAT\r\nContent-Transfer-Encoding: base64\r\n\r\n")
             + Parts.base64Lines(Parts.notTNEF), pdf], tnef: [1]),
        // The signature split by the encoding: a soft line break after its first byte
        // (0x78 is "x"), base64 in lines of 4 characters.
        Case(name: "quoted-printable soft break in the signature", parts: [text, [UInt8]("Content-Type: application/octet-stream; "
             + "name=\"data.bin\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=\r\n")
             + Parts.quotedPrintable(Array(Parts.winmail.dropFirst())) + [13, 10]], tnef: [1]),
        Case(name: "base64 in short lines", parts: [text, [UInt8]("Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
             + "Content-Transfer-Encoding: base64\r\n\r\n") + shortLines(Parts.base64Lines(Parts.winmail))], tnef: [1]),
    ]

    static func shortLines(_ base64: [UInt8]) -> [UInt8] {
        let plain = base64.filter { $0 != 13 && $0 != 10 }
        return stride(from: 0, to: plain.count, by: 4).flatMap { plain[$0..<min($0 + 4, plain.count)] + [13, 10] }
    }

    @Test(arguments: removalCases)
    func tnefPartsAreRemovedAndTheRestPassesByteForByte(_ tnefCase: Case) {
        let (message, boundary) = Parts.mixed("TNEF \(tnefCase.name)", tnefCase.parts)
        let rewritten = Rewriting.run(message, Self.remove)
        let kept = tnefCase.parts.enumerated().filter { !tnefCase.tnef.contains($0.offset) }.map(\.element)
        #expect(rewritten.body == Parts.multipartBody(Keyed.boundary(boundary), kept))
        #expect(rewritten.tnefRemoved == tnefCase.tnef.count)
        #expect(!rewritten.output.has(Parts.legacyDN))
        // tnef = "reject", Veil's default, refuses each of them.
        #expect(Rewriting.run(message, Self.reject).rejection == .tnef)
    }

    /// Deeper down: in a nested multipart/mixed, in an attached message/rfc822, in a
    /// base64-encoded attached message (removed inside, encoded again).
    @Test func tnefIsRemovedWhereverItIs() throws {
        let innerText = Parts.textPart("Forwarded rich text.\n")
        let nested = "nested-inner-1"
        let inner = { (parts: [[UInt8]]) in
            Parts.innerHeader(Parts.multipartType("mixed", Parts.innerMixed)) + Parts.multipartBody(Parts.innerMixed, parts)
        }
        let withTNEF = [innerText, Parts.tnefPart(), Self.pdf], without = [innerText, Self.pdf]
        let innerBody = Parts.multipartBody(Keyed.boundary(Parts.innerMixed), without)

        let (inMultipart, b1) = Parts.mixed("TNEF deeper nested", [Self.text, Parts.multipartType("mixed", nested) + [13, 10, 13, 10]
                                                                   + Parts.multipartBody(nested, withTNEF)])
        let first = Rewriting.run(inMultipart, Self.remove)
        #expect(first.body == Parts.multipartBody(Keyed.boundary(b1), [Self.text, Parts.multipartType("mixed", Keyed.boundary(nested))
                                                                       + [13, 10, 13, 10] + Parts.multipartBody(Keyed.boundary(nested), without)]))

        let (inAttached, b2) = Parts.mixed("TNEF deeper attached", [Self.text, [UInt8]("Content-Type: message/rfc822\r\n\r\n") + inner(withTNEF)])
        let second = Rewriting.run(inAttached, Self.remove)
        let attached = MIMEReading.entity(try #require(MIMEReading.parts(second.body, boundary: Keyed.boundary(b2)).last)).content
        Parts.expectScrubbed(attached: attached, "attached message")
        #expect(MIMEReading.entity(attached).content == Array(innerBody.dropLast(2)))

        let (inEncoded, b3) = Parts.mixed("TNEF deeper base64", [Self.text, Parts.encodedMessagePart(inner(withTNEF), encoding: "base64")])
        let third = Rewriting.run(inEncoded, Self.remove)
        let part = try #require(MIMEReading.parts(third.body, boundary: Keyed.boundary(b3)).last)
        #expect(MIMEReading.isBase64Lines(MIMEReading.entity(part).content))
        let decoded = MIMEReading.decoded(part)
        Parts.expectScrubbed(attached: decoded, "base64 attached message")
        #expect(MIMEReading.entity(decoded).content == innerBody)

        for rewritten in [first, second, third] {
            #expect(rewritten.tnefRemoved == 1)
            #expect(!rewritten.output.has(Parts.legacyDN) && !rewritten.output.has("winmail.dat"))
        }
    }

    static func topLevel(_ contentType: String, name: String) -> [UInt8] {
        Parts.message("TNEF top level", tag: Parts.tag(name), contentType: [UInt8]("Content-Type: \(contentType); name=\"\(name)\"\r\n"
                      + "Content-Disposition: attachment; filename=\"\(name)\"\r\nContent-Transfer-Encoding: base64"),
                      body: Parts.base64Lines(Parts.winmail))
    }

    /// A message whose whole body is TNEF has nothing left to deliver.
    @Test func aMessageThatIsAllTNEFIsRefusedInRemoveModeToo() {
        #expect(Rewriting.run(Self.topLevel("application/ms-tnef", name: "winmail.dat"), Self.remove).rejection == .tnef)
        #expect(Rewriting.run(Self.topLevel(Self.octetStream, name: "data.bin"), Self.remove).rejection == .tnef)
        let clean = Rewriting.run(Parts.mixed("clean", [Self.text, Self.pdf]).message, Self.remove)
        #expect(clean.rejection == nil && clean.tnefRemoved == 0)
    }

    /// A PDF, an octet stream with the signature at offset 1 (base64 and
    /// quoted-printable), a file whose name only contains winmail.dat, a text file
    /// that mentions it.
    @Test func attachmentsThatAreNotTNEFPassByteForByte() {
        let parts = [Self.text, Self.pdf,
                     Parts.attachmentPart(Self.octetStream, name: "offset1.bin", data: Parts.notTNEF),
                     Parts.attachmentPart(Self.octetStream, name: "offset1-qp.bin", data: Parts.notTNEF, encoding: "quoted-printable"),
                     Parts.attachmentPart(Self.octetStream, name: "winmail.dat.pdf", data: Parts.pdf),
                     Parts.attachmentPart("text/plain", name: "notes.txt", data: [UInt8]("winmail.dat came again\r\nfrom the old client\r\n"))]
        let (message, boundary) = Parts.mixed("not TNEF", parts)
        let rewritten = Rewriting.run(message, Self.remove)
        #expect(rewritten.body == Parts.multipartBody(Keyed.boundary(boundary), parts))
        #expect(rewritten.tnefRemoved == 0)
    }

    /// Removing every part of a multipart would leave it without parts (RFC 2046
    /// 5.1.1 wants at least one): refused. An alternative of text and TNEF keeps its text.
    @Test func removalNeverLeavesAnEmptyMultipart() {
        let alternative = "_000_only-tnef-alternativeEXCH01corpinternal_"
        let unclosed = Parts.mixed("only winmail, unclosed", [Parts.tnefPart()])
        let refused = [
            Parts.mixed("only winmail", [Parts.tnefPart()]).message,
            Parts.mixed("only TNEF by content", [Parts.tnefPart(Self.octetStream, name: "data.bin")]).message,
            Parts.mixed("two TNEF parts", [Parts.tnefPart(), Parts.tnefPart("application/vnd.ms-tnef", name: "message.tnef")]).message,
            unclosed.message.replacing("--\(unclosed.boundary)--\r\n", with: ""),
            Parts.mixed("nested alternative of TNEF", [Self.text, Parts.multipartType("alternative", alternative) + [13, 10, 13, 10]
                                                       + Parts.multipartBody(alternative, [Parts.tnefPart()])]).message,
        ]
        for message in refused {
            #expect(Rewriting.run(message, Self.remove).rejection == .tnef)
        }
        let kept = Parts.textPart("Forwarded rich text.\n")
        let message = Parts.mixed("nested alternative of text and TNEF", [Self.text, Parts.multipartType("alternative", alternative)
                                  + [13, 10, 13, 10] + Parts.multipartBody(alternative, [kept, Parts.tnefPart()])]).message
        let rewritten = Rewriting.run(message, Self.remove)
        #expect(rewritten.tnefRemoved == 1)
        #expect(rewritten.output.firstRange(of: Parts.multipartBody(Keyed.boundary(alternative), [kept])) != nil)
    }

    /// More than the 4 096 bytes the sniffer looks at before the first base64
    /// character (empty lines decode to nothing): the part has been written on before
    /// its content shows TNEF, so it cannot be removed.
    static func latePart(_ data: [UInt8]) -> [UInt8] {
        [UInt8]("Content-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
            + Array(repeating: [13, 10], count: 2100).joined() + Parts.base64Lines(data)
    }

    @Test(arguments: [ScrubConfiguration.TNEFPolicy.reject, .remove])
    func tnefFoundLateInTheContentIsRefused(policy: ScrubConfiguration.TNEFPolicy) {
        let configuration = Rewriting.configuration(.allowlist, tnef: policy)
        let wholeBody = Parts.message("late whole body", tag: Parts.tag("late"), contentType: [UInt8](
            "Content-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Transfer-Encoding: base64"),
            body: Array(repeating: [13, 10], count: 2100).joined() + Parts.base64Lines(Parts.winmail))
        for message in [Parts.mixed("late part", [Self.text, Self.latePart(Parts.winmail)]).message,
                        Parts.mixed("late part first", [Self.latePart(Parts.winmail), Self.text]).message, wholeBody] {
            #expect(Rewriting.run(message, configuration).rejection == .tnef)
        }
        // The same part with other content passes byte for byte.
        let parts = [Self.text, Self.latePart(Parts.notTNEF), Self.latePart(Parts.pdf)]
        let (message, boundary) = Parts.mixed("late, not TNEF", parts)
        let rewritten = Rewriting.run(message, configuration)
        #expect(rewritten.body == Parts.multipartBody(Keyed.boundary(boundary), parts))
        #expect(rewritten.tnefRemoved == 0)
    }

    /// An attached message that is all TNEF (by its Content-Type or its content, at
    /// once or after 4 096 bytes), as it is or encoded: removing it would leave an
    /// attached message without a body.
    @Test(arguments: [ScrubConfiguration.TNEFPolicy.reject, .remove])
    func anAttachedMessageWhoseBodyIsTNEFIsRefused(policy: ScrubConfiguration.TNEFPolicy) {
        let encodedBase64 = [UInt8]("\r\nContent-Transfer-Encoding: base64")
        let byType = Parts.innerHeader([UInt8]("Content-Type: application/ms-tnef; name=\"winmail.dat\"") + encodedBase64)
            + Parts.base64Lines(Parts.winmail)
        let byContent = Parts.innerHeader([UInt8]("Content-Type: application/octet-stream; name=\"data.bin\"") + encodedBase64)
            + Parts.base64Lines(Parts.winmail)
        let late = Parts.innerHeader([UInt8]("Content-Type: application/octet-stream") + encodedBase64)
            + Array(repeating: [13, 10], count: 2100).joined() + Parts.base64Lines(Parts.winmail)
        let rfc822 = [UInt8]("Content-Type: message/rfc822\r\n\r\n")
        let parts = [rfc822 + byType, rfc822 + byContent, rfc822 + late,
                     Parts.encodedMessagePart(byType, encoding: "base64"), Parts.encodedMessagePart(byContent, encoding: "base64"),
                     Parts.encodedMessagePart(late, encoding: "base64"), Parts.encodedMessagePart(byType, encoding: "quoted-printable")]
        for (index, part) in parts.enumerated() {
            let message = Parts.mixed("TNEF attached \(index)", [Parts.textPart("See the attached message.\n"), part]).message
            #expect(Rewriting.run(message, Rewriting.configuration(.allowlist, tnef: policy)).rejection == .tnef, "case \(index)")
        }
    }
}
