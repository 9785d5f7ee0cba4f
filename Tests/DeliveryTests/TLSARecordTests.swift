import Testing
@testable import PolicyRecords

/// TLSA rdata (RFC 6698 §2.1) and which records DANE for SMTP uses (RFC 7672 §3.1).
@Suite struct TLSARecordTests {
    static let hash = [UInt8](repeating: 0xAB, count: 32)

    @Test func rdataIsReadAsPublished() throws {
        let record = try #require(TLSARecord(rdata: [3, 1, 1] + Self.hash))
        #expect(record == TLSARecord(usage: .daneEE, selector: .publicKey, matching: .sha256, data: Self.hash))
        #expect(record.description == "3 1 1 " + String(repeating: "ab", count: 32))
        #expect(TLSARecord(rdata: [3, 1, 1]) == nil)
    }

    @Test func onlyDANERecordsWithKnownParametersAreUsable() {
        func usable(_ rdata: [UInt8]) -> Bool { TLSARecord(rdata: rdata)?.isUsable ?? false }
        #expect(usable([3, 1, 1] + Self.hash))
        #expect(usable([2, 0, 2] + [UInt8](repeating: 1, count: 64)))
        #expect(usable([3, 0, 0, 0x30, 0x82]))
        // PKIX usages are not for SMTP (RFC 7672 §3.1.3); unknown values; wrong lengths.
        #expect(!usable([1, 1, 1] + Self.hash))
        #expect(!usable([0, 1, 1] + Self.hash))
        #expect(!usable([4, 1, 1] + Self.hash))
        #expect(!usable([3, 2, 1] + Self.hash))
        #expect(!usable([3, 1, 3] + Self.hash))
        #expect(!usable([3, 1, 1] + Self.hash.dropLast()))
        #expect(!usable([3, 1, 2] + Self.hash))
    }
}
