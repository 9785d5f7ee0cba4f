import Testing
@testable import PolicyRecords

/// The `_mta-sts` TXT record (RFC 8461 §3.1): one record that begins with
/// `v=STSv1`, with an id of 1 to 32 letters and digits.
@Suite struct MTASTSRecordTests {
    static func record(_ texts: String...) -> MTASTSRecord { MTASTSRecord(txtRecords: texts) }

    static func isInvalid(_ record: MTASTSRecord) -> Bool {
        if case .invalid = record { return true }
        return false
    }

    @Test func theRFCExample() {
        #expect(Self.record("v=STSv1; id=20160831085700Z;") == .valid(id: "20160831085700Z"))
    }

    @Test func delimitersAndExtensions() {
        #expect(Self.record("v=STSv1;id=abc") == .valid(id: "abc"))
        #expect(Self.record("v=STSv1 ;\tid=abc ; ") == .valid(id: "abc"))
        #expect(Self.record("v=STSv1; ext_1=x:y; id=abc; more.ext=1") == .valid(id: "abc"))
        #expect(Self.record("v=STSv1; id=" + String(repeating: "a", count: 32)) == .valid(id: String(repeating: "a", count: 32)))
        // Of several ids the first counts (§3.2).
        #expect(Self.record("v=STSv1; id=first; id=second") == .valid(id: "first"))
    }

    @Test func noRecordIsNoPolicy() {
        #expect(MTASTSRecord(txtRecords: []) == .absent)
        #expect(Self.record("v=spf1 -all") == .absent)
        // Not "v=STSv1" then a delimiter: other records, discarded.
        #expect(Self.record("v=STSv10; id=abc") == .absent)
        #expect(Self.record("v=STSv1 id=abc") == .absent)
        #expect(Self.record("V=STSv1; id=abc") == .absent)
        #expect(Self.record("v=stsv1; id=abc") == .absent)
        #expect(Self.record(" v=STSv1; id=abc") == .absent)
        #expect(Self.record("id=abc; v=STSv1") == .absent)
    }

    @Test func otherRecordsAreDiscardedBeforeCounting() {
        #expect(Self.record("v=spf1 -all", "v=STSv1; id=abc", "google-site-verification=xyz") == .valid(id: "abc"))
        #expect(Self.record("v=STSv10; id=a", "v=STSv1; id=good") == .valid(id: "good"))
    }

    @Test func twoRecordsAreInvalid() {
        #expect(Self.record("v=STSv1; id=a", "v=STSv1; id=b") == .invalid("2 records begin with v=STSv1"))
        #expect(Self.isInvalid(Self.record("v=STSv1; id=a", "v=STSv1; id=a")))
        // A broken one still counts.
        #expect(Self.isInvalid(Self.record("v=STSv1; id=a", "v=STSv1;")))
    }

    @Test func aBrokenRecordIsInvalid() {
        for text in [
            "v=STSv1", "v=STSv1;", "v=STSv1; ", "v=STSv1 ", "v=STSv1;;id=abc",
            "v=STSv1; id=", "v=STSv1; id=abc-def", "v=STSv1; id=" + String(repeating: "a", count: 33),
            "v=STSv1; id=abc ", "v=STSv1; id =abc", "v=STSv1; id=ab c", "v=STSv1; id=äbc",
            "v=STSv1; ID=abc", "v=STSv1; ext=1",
            "v=STSv1; id=abc; ext=", "v=STSv1; id=abc; ext=a=b", "v=STSv1; id=abc; _ext=1",
            "v=STSv1; id=abc; ext", "v=STSv1; id=abc; ext=\u{7F}",
        ] {
            #expect(Self.isInvalid(Self.record(text)), "\(text)")
        }
        #expect(Self.record("v=STSv1; ext=1") == .invalid("no id"))
        #expect(Self.record("v=STSv1; id=a-b") == .invalid("id is not 1 to 32 letters and digits"))
    }
}
