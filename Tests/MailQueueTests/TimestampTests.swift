import Foundation
import MailQueue
import Testing

@Suite struct TimestampTests {
    @Test func roundTripAndFormats() throws {
        let date = Date(timeIntervalSince1970: 1_795_996_800.25)   // 2026-11-30T00:00:00.250Z, a Monday
        #expect(Timestamp.format(date) == "2026-11-30T00:00:00.250Z")
        #expect(Timestamp.parse("2026-11-30T00:00:00.250Z") == date)
        #expect(Timestamp.parse("2026-11-30T00:00:00Z") == Date(timeIntervalSince1970: 1_795_996_800))
        #expect(Timestamp.parse("yesterday") == nil)
        #expect(Timestamp.rfc5322(date) == "Mon, 30 Nov 2026 00:00:00 +0000")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1)) < Timestamp.format(Date(timeIntervalSince1970: 2)))
        // Every field zero-padded: 2026-01-05T03:04:05.125Z, a Monday.
        let early = Date(timeIntervalSince1970: 1_767_582_245.125)
        #expect(Timestamp.format(early) == "2026-01-05T03:04:05.125Z")
        #expect(Timestamp.rfc5322(early) == "Mon, 05 Jan 2026 03:04:05 +0000")
    }
}
