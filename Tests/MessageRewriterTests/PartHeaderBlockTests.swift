import Testing
@testable import MessageRewriter

/// Header blocks inside the body (issue 7, issue 12): attached messages, digest
/// parts, returned header blocks and the parts' own header blocks are scrubbed by
/// the mode's rules; signed parts and, when told, attached messages pass untouched.
/// Cases the end-to-end suite used to send through the daemon (Tests/e2e/test_mime.py
/// keeps 09's attached message as its round trip); the counts are those of
/// Tests/e2e/mime_expect.py, the independent Python model.
@Suite struct PartHeaderBlockTests {
    /// Received, Message-ID, X-MS-Exchange-*, X-Originating-IP of the header block the
    /// digest, the report and the oversized messages attach.
    static let embeddedSecrets = ["MBX02", "ad.contoso.com", "10.1.4.22", "10.20.31.7", "5a6b7c8d9e0f41a2b3c4d5e6f7a8b9c0",
                                  "X-MS-Exchange-", "X-Originating-IP", "Microsoft SMTP Server"]

    /// Corpus 06 (a scanner relay: `received :`, `Received<TAB>:`, `Subject :`)
    /// forwarded as an attachment. The top level reads the obsolete spacing (RFC 5322
    /// 4.5.3), so the attached header block must too: a block cut short at
    /// `received :` would pass the internal Received chain and the X-MS-Exchange-*
    /// fields as body text. What leaves has the current syntax (`Subject:`).
    @Test(arguments: MIMEContractTests.modes)
    func anAttachedMessageWithObsoleteFieldSpacingIsScrubbed(mode: ScrubRules.Mode) {
        let body = [UInt8](crlf: "--fwd-06\nContent-Type: text/plain\n\nForwarded from the scanner relay.\n"
                                 + "--fwd-06\nContent-Type: message/rfc822\n\n")
            + Corpus.bytes("06-scanner-relay.eml") + [UInt8](crlf: "--fwd-06--\n")
        let message = MIMEContractTests.mimeMessage("Content-Type: multipart/mixed; boundary=\"fwd-06\"", body, subject: "forwarded scan")
        let rewritten = Rewriting.run(message, Rewriting.configuration(mode))
        #expect(rewritten.output.leaked(Corpus.secrets("06-scanner-relay")) == [])
        #expect(rewritten.output.has("Subject: Scan from MFP 3rd floor\r\n"))
        // 2 parameters, 6 delimiter lines; in the attached block 3 Received, X-MimeOLE,
        // User-Agent, 2 X-Source-*, 5 X-MS-Exchange-* removed and the Message-Id mapped.
        #expect(rewritten.rewrites == 2 + 6 + 13)
        let attached = rewritten.body.split(separator: Array("Content-Type: message/rfc822\r\n\r\n".utf8)).last.map(Array.init) ?? []
        #expect(MIMEReading.fieldNames(MIMEReading.entity(attached).header)
            == ["date", "from", "to", "subject", "message-id", "mime-version", "content-type"])
    }

    /// `[scrub] embedded_messages = false`: 09's attached message passes byte for
    /// byte, its header block and its own boundaries included; the enclosing
    /// boundaries and the top level are still rewritten.
    @Test func embeddedMessagesFalseLeavesAttachedMessagesAlone() {
        let message = Corpus.bytes("09-forwarded-internal.eml") + [13, 10]     // as swaks sends it
        let rewritten = Rewriting.run(message, Rewriting.configuration(.denylist, embeddedMessages: false))
        let outer = "_004_2d9c4b7a1e3f4a6b8c0d2e4f6a8b0c1dEXCH01corpinternal_"
        let alternative = "_000_2d9c4b7a1e3f4a6b8c0d2e4f6a8b0c1dEXCH01corpinternal_"
        #expect(MIMEReading.parts(rewritten.body, boundary: Keyed.boundary(outer))[1]
            == MIMEReading.parts(message.body, boundary: outer)[1])
        #expect(rewritten.output.has("_000_9e8d7c6b5a4f4e3d2c1b0a9f8e7d6c5bMBX02adcontosocom_"))
        #expect(rewritten.body == message.body.replacing(outer, with: Keyed.boundary(outer))
            .replacing(alternative, with: Keyed.boundary(alternative)))
        // 2 parameters, 6 delimiter lines; nothing inside the attached message.
        #expect(rewritten.rewrites == 2 + 6)
        let top = MIMEReading.entity(rewritten.output).header
        #expect(top.occurrences(of: "Received:") == 1 && !top.text.lowercased().contains("x-originating-ip"))
    }

    static let signedPart = [UInt8](crlf: """
        Content-Type: multipart/alternative;
        \tboundary="_000_5a6b7c8dEXCH01corpinternal_"
        X-MS-Exchange-Organization-AuthSource: EXCH01.corp.internal

        --_000_5a6b7c8dEXCH01corpinternal_
        Content-Type: text/plain; charset="us-ascii"
        X-Mailer: Microsoft Outlook 16.0

        Signed text.
        --_000_5a6b7c8dEXCH01corpinternal_--

        """)

    /// S/MIME (RFC 1847): the signature covers the first part byte for byte, so it
    /// passes as it is, its own boundaries and the fields neither mode lets out
    /// elsewhere included; the multipart/signed boundary, outside the signed data, is
    /// replaced, and mime_skipped says parts were left alone.
    @Test(arguments: MIMEContractTests.modes)
    func signedPartsAreLeftIntact(mode: ScrubRules.Mode) {
        let old = "----=_NextPart_000_0001_01DA1B2C.3D4E5F60"
        let body = [UInt8](crlf: "This is a multipart message in MIME format.\n\n--\(old)\n") + Self.signedPart
            + [UInt8](crlf: """

                --\(old)
                Content-Type: application/pkcs7-signature; name="smime.p7s"
                Content-Transfer-Encoding: base64

                MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCCA
                --\(old)--

                """)
        let message = MIMEContractTests.mimeMessage("Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n"
                                                    + "\tmicalg=sha-256; boundary=\"\(old)\"", body, subject: "signed")
        let rewritten = Rewriting.run(message, Rewriting.configuration(mode))
        let pieces = rewritten.body.split(separator: Array("--\(Keyed.boundary(old))".utf8), omittingEmptySubsequences: false)
        #expect(pieces.count == 4 && Array(pieces[1]) == [13, 10] + Self.signedPart + [13, 10])
        #expect(rewritten.rewrites == 1 + 3)
        #expect(rewritten.skipped == MIMEWalker.Skipped.signed.description)
    }

    /// In a multipart/digest a part without Content-Type is a message (RFC 2046
    /// 5.1.5): its header block is scrubbed like an explicit message/rfc822 one; a
    /// text/plain part of the digest and an untyped part of a multipart/mixed are text.
    @Test(arguments: MIMEContractTests.modes)
    func digestPartsAreMessages(mode: ScrubRules.Mode) {
        let rewritten = Rewriting.run(Corpus.bytes("mime/digest.eml"), Rewriting.configuration(mode))
        for id in ["5a6b7c8d9e0f41a2b3c4d5e6f7a8b9c0", "6b7c8d9e9e0f41a2b3c4d5e6f7a8b9c0"] {
            #expect(rewritten.output.has(Keyed.messageID("\(id)@MBX02.ad.contoso.com")))
        }
        #expect(rewritten.output.has("Received: from typed.corp.internal") && rewritten.output.has("Received: from default.corp.internal"))
        #expect(rewritten.output.occurrences(of: "Received:") == 3)      // Veil's own and the two in text
        #expect(rewritten.output.leaked(Self.embeddedSecrets) == [])
        // 2 parameters, 7 delimiter lines; in each attached block Received,
        // X-MS-Exchange-*, X-Originating-IP removed and the Message-ID mapped.
        #expect(rewritten.rewrites == 2 + 7 + 8)
    }

    /// A delivery report returns the original header block as text/rfc822-headers:
    /// scrubbed like an attached message's.
    @Test(arguments: MIMEContractTests.modes)
    func aReportsReturnedHeaderBlockIsScrubbed(mode: ScrubRules.Mode) {
        let rewritten = Rewriting.run(Corpus.bytes("mime/report.eml"), Rewriting.configuration(mode))
        #expect(rewritten.output.has("Subject: Northwind figures\r\n"))
        #expect(rewritten.output.leaked(Self.embeddedSecrets) == [])
        #expect(rewritten.rewrites == 1 + 3 + 4)
    }

    /// Issue 12: a MIME part's own header block goes through the mode's rules too.
    /// Allowlist: every part keeps only its Content-* fields (in any spelling), the
    /// attached message's block only allowlisted ones; denylist: the profile's fields
    /// go from both, in-house ones stay. A part's Content-ID is not mapped (the HTML's
    /// cid: link must still find the image).
    @Test(arguments: MIMEContractTests.modes)
    func partHeaderBlocksAreScrubbed(mode: ScrubRules.Mode) {
        let rewritten = Rewriting.run(Corpus.bytes("mime/part-headers.eml"), Rewriting.configuration(mode))
        let body = rewritten.body
        #expect(body.has("Content-ID: <image001.png@01DA1B2C.3D4E5F60>\r\n"))
        #expect(body.has("src=3D\"cid:image001.png@01DA1B2C.3D4E5F60\""))
        #expect(body.has("content-type: text/html") && body.has("Content-Description: image001.png\r\n"))
        #expect(body.has("Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"))
        #expect(rewritten.output.leaked(["X-MS-Exchange-", "EXCH01", "X-Exclaimer", "8c10826d", "10.20.31.7", "10.1.4.22", "MBX02"]) == [])
        let inHouse = ["X-Contoso-Workflow-Server", "APP07", "X-Attachment-Id", "f_lp0x1abc0"]
        switch mode {
        case .allowlist:
            #expect(rewritten.output.leaked(inHouse) == [])
            // 2 parameters, 7 delimiters, 5 part fields, 5 attached fields.
            #expect(rewritten.rewrites == 2 + 7 + 5 + 5)
        case .denylist:
            #expect(body.occurrences(of: "X-Contoso-Workflow-Server: APP07.corp.example\r\n") == 2)
            #expect(body.has("X-Attachment-Id: f_lp0x1abc0\r\n"))
            #expect(rewritten.rewrites == 2 + 7 + 3 + 4)
        }
    }
}
