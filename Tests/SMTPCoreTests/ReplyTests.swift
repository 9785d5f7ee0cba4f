import NIOCore
import Testing
@testable import SMTPCore

@Suite struct ReplyTests {
    func encoded(_ reply: SMTPReply) -> String {
        var buffer = ByteBuffer()
        reply.write(into: &buffer)
        return String(buffer: buffer)
    }

    @Test func singleLineWithEnhancedCode() {
        #expect(encoded(SMTPReply(250, "2.1.0", "Ok")) == "250 2.1.0 Ok\r\n")
    }

    @Test func multiLine() {
        #expect(encoded(SMTPReply(250, nil, ["relay.example", "PIPELINING", "SIZE 10"]))
            == "250-relay.example\r\n250-PIPELINING\r\n250 SIZE 10\r\n")
    }

    @Test func emptyChallenge() {
        #expect(encoded(SMTPReply(334, nil, "")) == "334 \r\n")
    }

    @Test func classes() {
        #expect(SMTPReply(451, "4.3.0", "x").isTransientFailure)
        #expect(SMTPReply(554, "5.7.1", "x").isPermanentFailure)
        #expect(SMTPReply(250, "2.0.0", "x").isPositive)
    }
}
