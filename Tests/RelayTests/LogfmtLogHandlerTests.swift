import Foundation
import MailQueue
import Testing
@testable import Relay

@Suite struct LogfmtLogHandlerTests {
    @Test func timestampIsRFC3339UTCWithMilliseconds() throws {
        let before = Date()
        let stamp = Timestamp.nowForLog()
        #expect(stamp.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parsed = try #require(parser.date(from: stamp))
        #expect(abs(parsed.timeIntervalSince(before)) < 60)
    }

    @Test func plainValuesStayBareOthersAreQuoted() {
        #expect(LogfmtLogHandler.quoted("01M8NJAPY8DEHB") == "01M8NJAPY8DEHB")
        #expect(LogfmtLogHandler.quoted("") == "\"\"")
        #expect(LogfmtLogHandler.quoted("a b") == "\"a b\"")
        #expect(LogfmtLogHandler.quoted("k=v") == "\"k=v\"")
    }

    /// A client-chosen name must not be able to start a new log line or hide text.
    @Test func controlAndInvisibleCharactersAreEscaped() {
        #expect(LogfmtLogHandler.quoted("x\r\nts=forged") == "\"x\\r\\nts=forged\"")
        #expect(LogfmtLogHandler.quoted("a\u{7F}b") == "\"a\\u007fb\"")
        #expect(LogfmtLogHandler.quoted("a\u{202E}b") == "\"a\\u202eb\"")
        #expect(LogfmtLogHandler.quoted("café") == "café")
    }
}
