import Crypto
import Foundation
import Testing
@testable import DKIM

/// RFC 6376 §3.4.2 and §3.4.4 ("relaxed"), with the example of §3.4.5, and the body
/// hash fed in pieces split anywhere.
@Suite struct CanonicalizationTests {
    static func bodyHash(_ pieces: [[UInt8]]) -> String {
        var body = RelaxedBody()
        for piece in pieces { body.update(piece) }
        return Data(body.finalize()).base64EncodedString()
    }

    static func hash(_ text: String) -> String {
        Data(SHA256.hash(data: Array(text.utf8))).base64EncodedString()
    }

    /// §3.4.5: "A: X", "B : Y<HT><CRLF><HT>Z  " becomes "a:X", "b:Y Z".
    @Test func rfcExampleHeaders() {
        #expect(RelaxedHeader.canonicalize(Array("A: X\r\n".utf8)) == Array("a:X\r\n".utf8))
        #expect(RelaxedHeader.canonicalize(Array("B : Y\t\r\n\tZ  \r\n".utf8)) == Array("b:Y Z\r\n".utf8))
    }

    @Test func headerValueWhitespace() {
        #expect(RelaxedHeader.canonicalize(Array("Subject:   two   words \t ".utf8)) == Array("subject:two words\r\n".utf8))
        #expect(RelaxedHeader.canonicalize(Array("X-Empty:\r\n".utf8)) == Array("x-empty:\r\n".utf8))
        // 8-bit (UTF-8) values pass byte for byte.
        #expect(RelaxedHeader.canonicalize(Array("Subject: Grüße\r\n".utf8)) == Array("subject:Grüße\r\n".utf8))
    }

    /// §3.4.5: " C <CRLF>D <HT> E<CRLF><CRLF><CRLF>" becomes " C<CRLF>D E<CRLF>".
    @Test func rfcExampleBody() {
        #expect(Self.bodyHash([Array(" C \r\nD \t E\r\n\r\n\r\n".utf8)]) == Self.hash(" C\r\nD E\r\n"))
    }

    @Test func bodyEdgeCases() {
        // An empty body, or one of empty lines only, is empty (RFC 6376 errata 3192).
        #expect(Self.bodyHash([]) == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
        #expect(Self.bodyHash([Array("\r\n\r\n \t\r\n".utf8)]) == Self.hash(""))
        // A last line without its end gets CRLF; empty lines inside stay.
        #expect(Self.bodyHash([Array("a\r\n\r\nb".utf8)]) == Self.hash("a\r\n\r\nb\r\n"))
        // A bare CR or LF ends a line, as the wire encoder sends it.
        #expect(Self.bodyHash([Array("a\nb\rc\r\n".utf8)]) == Self.hash("a\r\nb\r\nc\r\n"))
    }

    /// Every split point of a body with all the cases gives the same hash.
    @Test func bodyHashAtEverySplitPoint() {
        let text = Array(" lead\t \r\nx  y \r\n\r\n\tz\r\r\n\n\r\n  \r\nend  \r\n\r\n".utf8)
        let whole = Self.bodyHash([text])
        for split in 0...text.count {
            #expect(Self.bodyHash([Array(text[..<split]), Array(text[split...])]) == whole, "split at \(split)")
        }
        #expect(Self.bodyHash(text.map { [$0] }) == whole)
    }

    @Test func headerBlockFieldsAndOversigning() {
        let block = HeaderBlock(Array("From: a@b\r\nTo: c@d\r\nSubject: one\r\n two\r\nTo: e@f\r\n".utf8)[...])
        // Each name once more than it occurs, also when it does not (RFC 6376 §8.15).
        let names = block.signedNames(["from", "to", "cc", "subject"])
        #expect(names == ["from", "from", "to", "to", "to", "cc", "subject", "subject"])
        // Occurrences from the bottom up; the names left over sign absences.
        #expect(String(decoding: block.canonicalized(names), as: UTF8.self)
                == "from:a@b\r\nto:e@f\r\nto:c@d\r\nsubject:one two\r\n")
        #expect(block.from.map { String(decoding: $0, as: UTF8.self) } == "From: a@b\r\n")
    }

    /// Thousands of fields of one name: signed a bounded number of times, in
    /// linear time (a header block full of To fields must not stall the relay).
    @Test func manyFieldsOfOneName() {
        let block = HeaderBlock(Array(("From: a@b\r\n" + String(repeating: "To: x@y\r\n", count: 50_000)).utf8)[...])
        let names = block.signedNames(["from", "to"])
        #expect(names.count == 2 + HeaderBlock.maximumSignedOccurrences + 1)
        #expect(block.canonicalized(names).count == "from:a@b\r\n".utf8.count + 21 * "to:x@y\r\n".utf8.count)
    }
}
