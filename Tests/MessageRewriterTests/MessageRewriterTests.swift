import Foundation
import NIOCore
import Testing
@testable import MessageRewriter

/// The rewriter fed whole, byte by byte and at 1 000 random split points must give
/// the same output; each fixture checks what is removed, kept and rewritten.
@Suite struct MessageRewriterTests {
    static let key = [UInt8](repeating: 7, count: 32)
    static let context = MessageContext(traceField: "Received: by relay.example (Veil) with ESMTPSA id 01M8N2JN2CQWDJ; Mon, 30 Nov 2026 02:20:00 +0000",
                                        date: "Mon, 30 Nov 2026 02:20:00 +0000", generatedMessageID: "<generated@relay.example>")

    /// Denylist mode with the `exchange` profile unless told otherwise.
    static func configuration(mode: ScrubRules.Mode = .denylist, profile: [String] = ExchangeProfile.removedFields,
                              remove: [String] = [], keep: [String] = [],
                              rewriteIDs: Bool = true, key: [UInt8] = key, maximumHeaderSize: Int = 4096,
                              maximumHops: Int = 50) -> ScrubConfiguration {
        let rules: ScrubRules = switch mode {
        case .allowlist: .allowlist(keep: keep, remove: remove)
        case .denylist: .denylist(profile: profile, remove: remove, keep: keep)
        }
        return ScrubConfiguration(rules: rules, rewriteMessageIDs: rewriteIDs,
                           key: key, hostname: "relay.example", maximumHeaderSize: maximumHeaderSize, maximumHops: maximumHops)
    }

    static func rewrite(_ input: [UInt8], splits: [Int], configuration: ScrubConfiguration = configuration(),
                        context: MessageContext = context) -> Result<[UInt8], MessageRejection> {
        Rewriting.once(input, configuration, splits: splits, context: context).result
    }

    /// The output for the whole input, checked to be the same for every split.
    func everySplit(_ text: String, configuration: ScrubConfiguration = configuration(),
                    context: MessageContext = context) -> Result<[UInt8], MessageRejection> {
        let input = Array(text.utf8)
        let whole = Self.rewrite(input, splits: [], configuration: configuration, context: context)
        #expect(Self.rewrite(input, splits: Array(0..<input.count), configuration: configuration, context: context) == whole)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<(input.count > 2000 ? 20 : 200) {
            let count = Int.random(in: 1...min(1000, max(1, input.count)), using: &generator)
            let splits = (0..<count).map { _ in Int.random(in: 0...input.count, using: &generator) }.sorted()
            #expect(Self.rewrite(input, splits: splits, configuration: configuration, context: context) == whole)
        }
        return whole
    }

    func text(_ result: Result<[UInt8], MessageRejection>) -> String {
        (try? result.get()).map { String(decoding: $0, as: UTF8.self) } ?? "<rejected>"
    }

    @Test func foldedReceivedIsRemovedWholeAndTraceAdded() {
        let output = text(everySplit("""
            Received: from EXCH01.corp.internal (10.1.2.3) by
            \tEXCH02.corp.internal (10.1.2.4) with Microsoft SMTP Server id
            \t15.1.2507.6; Mon, 30 Nov 2026 01:00:00 +0000\r
            From: a@corp.example\r
            Date: Mon, 30 Nov 2026 01:00:00 +0000\r
            Message-ID: <abc@EXCH01.corp.internal>\r
            \r
            body\r

            """.replacingOccurrences(of: "\n", with: "\r\n").replacingOccurrences(of: "\r\r\n", with: "\r\n")))
        #expect(output.hasPrefix("Received: by relay.example (Veil) with ESMTPSA id 01M8N2JN2CQWDJ; "))
        #expect(!output.contains("EXCH") && !output.contains("10.1.2") && !output.contains("15.1.2507"))
        #expect(output.contains("From: a@corp.example\r\nDate: Mon, 30 Nov 2026 01:00:00 +0000\r\nMessage-ID: <"))
        #expect(output.hasSuffix("@relay.example>\r\n\r\nbody\r\n"))
    }

    @Test(arguments: ["received :", "RECEIVED:", "Received\t:", "x-ms-exchange-organization-authas:", "X-Mailer:",
                      "Thread-Index:", "X-Microsoft-Antispam-Message-Info:", "msip_labels:"])
    func removedWhateverTheCaseOrSpacing(name: String) {
        let output = text(everySplit("\(name) secret\r\nSubject: kept\r\n\r\nbody"))
        #expect(!output.contains("secret"))
        #expect(output.contains("Subject: kept\r\n"))
    }

    @Test func whitespaceOnlyContinuationDoesNotEndTheHeaderBlock() {
        let output = text(everySplit("X-A: 1\r\n \r\nReceived: secret\r\n\r\nbody"))
        #expect(!output.contains("secret"))
        #expect(output.contains("X-A: 1\r\n \r\n"))
        #expect(output.hasSuffix("\r\n\r\nbody"))
    }

    @Test func keptFieldsKeepTheirBytesAndTheBodyIsUntouched() {
        let subject = "Subject: =?UTF-8?B?w6nDqMOg?=\r\n =?UTF-8?B?w6nDqMOg?=\r\n\tand more\r\n"
        let body = "Received: in the body stays\r\nX-Mailer: too\r\n\r\n" + String(repeating: "line\r\n", count: 1000)
        let output = text(everySplit("From: a@b.example\r\n" + subject + "Date: x\r\nMessage-ID: <a@b>\r\n\r\n" + body))
        #expect(output.contains("From: a@b.example\r\n" + subject + "Date: x\r\n"))
        let bodyPart = output.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        #expect(bodyPart == body)
    }

    @Test func messageIDsAreMappedStablyPerKey() {
        let message = "Message-ID: <one@EXCH01.corp.internal>\r\nIn-Reply-To: <two@EXCH01.corp.internal>\r\n"
            + "References: <zero@x>\r\n <two@EXCH01.corp.internal>\r\nContent-ID: <img@EXCH01>\r\nDate: d\r\n\r\nb"
        let first = text(everySplit(message))
        let second = text(everySplit(message))
        let otherKey = text(everySplit(message, configuration: Self.configuration(key: [UInt8](repeating: 9, count: 32))))
        #expect(first == second)
        #expect(first != otherKey)
        #expect(!first.contains("EXCH01") && !first.contains("<zero@x>"))
        let expected = Keyed.messageID("two@EXCH01.corp.internal")
        #expect(first.contains("In-Reply-To: \(expected)\r\n"))
        #expect(first.contains("References: <") && first.contains("\r\n \(expected)\r\n"))
        let kept = text(everySplit(message, configuration: Self.configuration(rewriteIDs: false)))
        #expect(kept.contains("Message-ID: <one@EXCH01.corp.internal>\r\n"))
    }

    @Test func onlyTheOrganizationsIDsAreMappedInReferences() {
        let veilID = "<abcdefgh@relay.example>"
        let message = "Message-ID: <new@EXCH02.corp.internal>\r\nIn-Reply-To: <bob-1@mail.fabrikam.example>\r\n"
            + "References: \(veilID)\r\n <bob-1@mail.fabrikam.example>\r\n <older@EXCH01.corp.internal>\r\n"
            + " <x@MBX01.ad.contoso.local>\r\nDate: d\r\n\r\nb"
        let output = text(everySplit(message))
        #expect(output.contains("In-Reply-To: <bob-1@mail.fabrikam.example>\r\n"))
        #expect(output.contains("References: \(veilID)\r\n <bob-1@mail.fabrikam.example>\r\n <"))
        #expect(!output.contains("EXCH") && !output.contains("contoso.local"))
    }

    @Test func missingDateAndMessageIDAreAdded() {
        let output = text(everySplit("Subject: s\r\n\r\nbody"))
        #expect(output.hasSuffix("Subject: s\r\nDate: Mon, 30 Nov 2026 02:20:00 +0000\r\nMessage-ID: <generated@relay.example>\r\n\r\nbody"))
        let noHeaders = text(everySplit("\r\nbody only"))
        #expect(noHeaders.hasSuffix("Message-ID: <generated@relay.example>\r\n\r\nbody only"))
        let noBody = text(everySplit("Subject: s\r\nDate: d\r\nMessage-ID: <a@b>\r\n"))
        #expect(noBody.hasSuffix("Subject: s\r\nDate: d\r\nMessage-ID: \(Keyed.messageID("a@b"))\r\n"))
        // Only a header block, its last line not ended (BDAT): the added fields start on lines of their own.
        let unended = text(everySplit("Subject: s"))
        #expect(unended.hasSuffix("Subject: s\r\nDate: Mon, 30 Nov 2026 02:20:00 +0000\r\nMessage-ID: <generated@relay.example>\r\n"))
    }

    @Test func profileNoneKeepAndRemoveLists() {
        let message = "X-Mailer: m\r\nUser-Agent: u\r\nX-Internal-Host: h\r\nX-Internal-Zone: z\r\nDate: d\r\nMessage-ID: <a@b>\r\n\r\n"
        let none = text(everySplit(message, configuration: Self.configuration(profile: [], rewriteIDs: false)))
        #expect(none.contains("X-Mailer: m") && none.contains("User-Agent: u"))
        let custom = text(everySplit(message, configuration: Self.configuration(remove: ["X-Internal-*"], keep: ["User-Agent"])))
        #expect(!custom.contains("X-Mailer") && custom.contains("User-Agent: u") && !custom.contains("X-Internal"))
        var rewriter = MessageRewriter(configuration: Self.configuration(remove: ["X-Internal-*"]), context: Self.context)
        var output: [ByteBuffer] = []
        try? rewriter.process(ByteBuffer(string: message), into: &output)
        #expect(rewriter.scrubbedFields == 5)
    }

    @Test func veilsOwnTraceFieldsAreKeptSoLoopsAreCaught() {
        var message = "Subject: loop\r\nDate: d\r\nMessage-ID: <a@b>\r\n\r\nbody"
        var passes = 0
        while case .success(let output) = Self.rewrite(Array(("Received: from EXCH01.corp.internal\r\n" + message).utf8), splits: [],
                                                      configuration: Self.configuration(maximumHops: 5)) {
            message = String(decoding: output, as: UTF8.self)
            passes += 1
            #expect(!message.contains("EXCH01"))
        }
        #expect(passes == 5)
    }

    @Test func onlyVeilsExactTraceFieldIsKept() {
        let own = "Received: by relay.example (Veil) with ESMTPSA id 01M8N2JN2CQWDJ; Mon, 30 Nov 2026 02:20:00 +0000\r\n"
        let forged = [
            "Received: by relay.example (Veil) from EXCH01.corp.internal (10.1.2.3); Mon, 30 Nov 2026 02:20:00 +0000\r\n",
            "Received: by relay.example (Veil) with ESMTPSA id 01M8N2JN2CQWDJ; Mon, 30 Nov 2026 02:20:00 +0000 EXCH01\r\n",
            "Received: by relay.example (Veil) with ESMTPSA id 01M8N2JN2CQWDJ; EXCH01 corp internal 10 1 2 3\r\n",
            "Received: by relay.example (Veil) with ESMTPSA id EXCH01corpinternal10x1x2x3; Mon, 30 Nov 2026 02:20:00 +0000\r\n",
        ]
        let output = text(everySplit(own + forged.joined() + "Subject: s\r\nDate: d\r\nMessage-ID: <a@b>\r\n\r\nb",
                                     configuration: Self.configuration(mode: .allowlist)))
        #expect(output.contains(own))
        #expect(!output.contains("EXCH01") && !output.contains("10.1.2.3") && !output.contains("corp internal"))
    }

    @Test func removingWhatMIMENeedsIsNotAllowed() {
        #expect(ScrubRules.removedStructuralField(["Content-*"]) == "Content-Type")
        #expect(ScrubRules.removedStructuralField(["mime-version"]) == "MIME-Version")
        #expect(ScrubRules.removedStructuralField(["Content-Class", "X-*"]) == nil)
    }

    @Test func traceFieldCanBeOff() {
        let context = MessageContext(traceField: nil, date: "d", generatedMessageID: "<g@h>")
        #expect(text(everySplit("Date: x\r\nMessage-ID: <g@h>\r\n\r\nb", configuration: Self.configuration(rewriteIDs: false), context: context))
            == "Date: x\r\nMessage-ID: <g@h>\r\n\r\nb")
    }

    @Test func refusals() {
        #expect(everySplit("Subject: a\r\nno colon here\r\n\r\nbody") == .failure(.malformedHeader))
        #expect(everySplit(" leading continuation\r\n\r\nbody") == .failure(.malformedHeader))
        #expect(everySplit("Subject: a\0b\r\n\r\nbody") == .failure(.nulInHeader))
        #expect(everySplit("Subject: a\r\n\r\nbody \0 is fine") != .failure(.nulInHeader))
        let big = "X-Big: " + String(repeating: "x", count: 5000) + "\r\n\r\nbody"
        #expect(everySplit(big) == .failure(.headerBlockTooLarge))
        let hops = String(repeating: "Received: hop\r\n", count: 51) + "\r\nbody"
        #expect(everySplit(hops) == .failure(.tooManyHops))
        #expect((try? everySplit(String(repeating: "Received: hop\r\n", count: 50) + "\r\nbody").get()) != nil)
        #expect(everySplit("From: a@x\r\nSubject: s\r\nfrom : b@y\r\n\r\nbody") == .failure(.multipleFrom))
    }

    /// Exchange 2016/2019 stamps that the allowlist removes without anyone listing them.
    static let unlistedLeaks = [
        "X-ClientProxiedBy: EXCAS01.corp.example (10.1.2.3) To EXMBX02.corp.example\r\n (10.1.2.4)\r\n",
        "Received-SPF: None (EXMBX02.corp.example: alice@corp.example does not\r\n designate permitted sender hosts)\r\n",
        "Authentication-Results: EXMBX02.corp.example; spf=none smtp.mailfrom=alice@corp.example\r\n",
        "ARC-Seal: i=1; a=rsa-sha256; d=corp.example; s=arc-EXMBX02; cv=none; b=AAAA\r\n",
        "ARC-Message-Signature: i=1; d=corp.example; s=arc-EXMBX02; h=From:To; b=BBBB\r\n",
        "ARC-Authentication-Results: i=1; EXMBX02.corp.example; auth=pass smtp.auth=CORP\\alice\r\n",
        "DKIM-Signature: v=1; a=rsa-sha256; d=corp.example; s=exmbx02-internal;\r\n\th=From:To:Subject:Thread-Index; b=CCCC\r\n",
        "X-TM-AS-Product-Ver: SMEX-14.0.0.3197-9.1.1006-29254.001\r\n",
        "X-TM-AS-Result: No--12.043-5.0-31-10\r\n",
        "X-Exclaimer-Md-Config: 8c10826f-1d2a-4f13-9d5a-5ad0f1bc8a3c\r\n",
        "X-CodeTwo-MessageID: 9e2f3c4d-EXMBX02\r\n",
        "X-Forwarded-For: 10.9.8.7\r\n",
        "X-Contoso-Workflow-Server: APP07.corp.example\r\n",
        "Bcc: hidden@corp.example\r\n",
        "Resent-Bcc: hidden@corp.example\r\n",
    ]

    /// What receivers need and the allowlist keeps, byte for byte.
    static let listedFields = [
        "From: Alice <alice@corp.example>\r\n", "Sender: Bob <bob@corp.example>\r\n", "Reply-To: team@corp.example\r\n",
        "To: carol@partner.example\r\n", "cc : dave@partner.example\r\n", "Subject: =?UTF-8?B?w6k=?=\r\n\tfolded\r\n",
        "Date: Mon, 30 Nov 2026 01:00:00 +0000\r\n", "Comments: c\r\n", "Keywords: k\r\n",
        "Resent-Date: Mon, 30 Nov 2026 01:00:00 +0000\r\n", "Resent-From: alice@corp.example\r\n",
        "Resent-Sender: bob@corp.example\r\n", "Resent-To: erin@partner.example\r\n", "Resent-Cc: f@partner.example\r\n",
        "MIME-Version: 1.0\r\n", "Content-Type: text/plain; charset=utf-8\r\n", "Content-Language: en-US\r\n",
        "List-Id: <news.corp.example>\r\n", "List-Unsubscribe: <https://corp.example/u>\r\n",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", "Auto-Submitted: auto-replied\r\n",
        "Disposition-Notification-To: alice@corp.example\r\n", "Importance: high\r\n", "Priority: urgent\r\n",
        "X-Priority: 1\r\n", "Sensitivity: Company-Confidential\r\n", "Autocrypt: addr=alice@corp.example; keydata=AAAA\r\n",
    ]

    @Test func allowlistKeepsOnlyListedFields() {
        let allowlist = Self.configuration(mode: .allowlist)
        let message = Self.unlistedLeaks.joined() + Self.listedFields.joined() + "Message-ID: <m1@EXMBX02.corp.example>\r\n"
            + "Resent-Message-ID: <m2@EXMBX02.corp.example>\r\n\r\nbody\r\n"
        let output = text(everySplit(message, configuration: allowlist))
        for secret in ["EXCAS01", "EXMBX02", "10.1.2", "10.9.8.7", "SMEX", "No--12", "8c10826f", "APP07", "hidden", "arc-", "CORP\\"] {
            #expect(!output.contains(secret), "\(secret) left in the output")
        }
        #expect(output.contains("Received: by relay.example (Veil) with ESMTPSA id 01M8N2JN2CQWDJ; "))
        // As they came, but `cc :` in the current syntax (RFC 5322 §4.5.4).
        #expect(output.contains(Self.listedFields.joined().replacingOccurrences(of: "cc : ", with: "cc: ") + "Message-ID: <"))
        #expect(output.hasSuffix("@relay.example>\r\n\r\nbody\r\n"))
        var rewriter = MessageRewriter(configuration: allowlist, context: Self.context)
        var buffers: [ByteBuffer] = []
        try? rewriter.process(ByteBuffer(string: message), into: &buffers)
        #expect(rewriter.scrubbedFields == Self.unlistedLeaks.count + 2)
    }

    @Test func allowlistKeepAndRemove() {
        let message = "X-Contoso-Workflow-Server: APP07\r\nKeywords: k\r\nBcc: b@x\r\nSubject: s\r\nDate: d\r\nMessage-ID: <a@b>\r\n\r\n"
        let output = text(everySplit(message, configuration: Self.configuration(mode: .allowlist, remove: ["Keywords"],
                                                                                 keep: ["X-Contoso-*", "Bcc"])))
        #expect(output.contains("X-Contoso-Workflow-Server: APP07\r\nSubject: s\r\n"))
        #expect(!output.contains("Keywords") && !output.contains("Bcc"))
        // Bcc never leaves, in the denylist mode too.
        #expect(!text(everySplit(message, configuration: Self.configuration(profile: [], keep: ["Bcc"]))).contains("Bcc"))
    }

    @Test func denylistHasTheNewEntries() {
        let output = text(everySplit(Self.unlistedLeaks.joined() + "Subject: s\r\nDate: d\r\nMessage-ID: <a@b>\r\n\r\nbody"))
        #expect(output.contains("X-Contoso-Workflow-Server: APP07.corp.example\r\nSubject: s\r\n"))
        #expect(!output.contains("EXMBX02") && !output.contains("EXCAS01") && !output.contains("SMEX") && !output.contains("10.9.8.7"))
    }

    @Test func originatorFieldsAreCollectedForTheSenderCheck() throws {
        var rewriter = MessageRewriter(configuration: Self.configuration(mode: .allowlist), context: Self.context)
        var output: [ByteBuffer] = []
        try rewriter.process(ByteBuffer(string: "From: a@x\r\nSender: b@y\r\nResent-From: c@z\r\nResent-Sender: d@w\r\nTo: e@v\r\n\r\n"),
                             into: &output)
        #expect(rewriter.originatorFields.map { String(decoding: $0, as: UTF8.self) }
            == ["From: a@x\r\n", "Sender: b@y\r\n", "Resent-From: c@z\r\n", "Resent-Sender: d@w\r\n"])
    }
}
