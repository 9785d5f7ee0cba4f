import Foundation
import Testing
@testable import DKIM

/// `Keyring.sign(_:now:)`, for messages Veil makes whole in memory (TLS reports):
/// the same text as the streaming stage gives, and more fields signed on request.
@Suite struct WholeMessageSigningTests {
    @Test func theSameTextAsTheStreamingStage() throws {
        let keyring = SigningStageTests.keyring()
        let signed = try keyring.sign(SigningStageTests.message, now: SigningStageTests.now)
        #expect(signed == (try SigningStageTests.signed(SigningStageTests.message)).text)
        #expect(SigningStageTests.signatures(in: signed).count == 2)
    }

    @Test func anUnsignedDomainLeavesTheMessageAsItIs() throws {
        let message = Array("From: someone@elsewhere.example\r\nSubject: x\r\n\r\nbody\r\n".utf8)
        #expect(try SigningStageTests.keyring().sign(message, now: SigningStageTests.now) == message)
    }

    /// RFC 8460 §5.3: the report's own fields are signed, each once more than the
    /// message has it (like every field of the list), the usual ones still.
    @Test func moreFieldsSigned() throws {
        let message = Array("""
            From: postmaster@contoso.example\r
            Subject: Report\r
            TLS-Report-Domain: example.org\r
            TLS-Report-Submitter: contoso.example\r
            \r
            body\r

            """.utf8)
        let keyring = SigningStageTests.keyring().alsoSigning(["TLS-Report-Domain", "tls-report-submitter", "from"])
        #expect(keyring.entries.allSatisfy { $0.headers.filter { $0 == "from" }.count == 1 })
        let tags = SigningStageTests.signatures(in: try keyring.sign(message, now: SigningStageTests.now))
        let signed = tags[0]["h"]!.split(separator: ":").map(String.init)
        #expect(signed.filter { $0 == "tls-report-domain" }.count == 2)
        #expect(signed.filter { $0 == "tls-report-submitter" }.count == 2)
        #expect(signed.contains("subject") && signed.contains("from"))
    }
}
