import Foundation
import Testing
@testable import MessageRewriter

/// The streaming codecs: the same result for every split of the input, and what
/// they write reads back as what went in.
@Suite struct ContentCodingTests {
    /// `input` through `coder`, cut at `splits`.
    static func run(_ coder: some ContentCoder, _ input: [UInt8], splits: [Int] = []) -> [UInt8] {
        var coder = coder
        var output: [UInt8] = []
        for piece in pieces(input, splits) { piece.withUnsafeBytes { coder.code($0, into: &output) } }
        coder.finish(into: &output)
        return output
    }

    static func decodeBase64(_ text: String, splits: [Int]) -> [UInt8] { run(Base64Decoder(), Array(text.utf8), splits: splits) }
    static func decodeQP(_ bytes: [UInt8], splits: [Int] = []) -> [UInt8] { run(QuotedPrintableDecoder(), bytes, splits: splits) }
    static func encodeBase64(_ bytes: [UInt8], splits: [Int] = []) -> [UInt8] { run(Base64Encoder(), bytes, splits: splits) }
    static func encodeQP(_ bytes: [UInt8], splits: [Int] = []) -> [UInt8] { run(QuotedPrintableEncoder(), bytes, splits: splits) }

    static func pieces(_ bytes: [UInt8], _ splits: [Int]) -> [[UInt8]] {
        var start = 0
        var result: [[UInt8]] = []
        for end in splits + [bytes.count] where end >= start {
            result.append(Array(bytes[start..<end]))
            start = end
        }
        return result
    }

    static func randomSplits(_ count: Int) -> [Int] {
        (0..<Int.random(in: 0...20)).map { _ in Int.random(in: 0...count) }.sorted()
    }

    @Test func base64MatchesFoundationEitherWay() {
        for length in [0, 1, 2, 3, 4, 56, 57, 58, 1000] {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255) }
            let encoded = Self.encodeBase64(data, splits: Self.randomSplits(length))
            let expected = Data(data).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
            #expect(String(decoding: encoded, as: UTF8.self) == expected + (expected.isEmpty ? "" : "\r\n"))
            let text = String(decoding: encoded, as: UTF8.self)
            #expect(Self.decodeBase64(text, splits: Self.randomSplits(text.utf8.count)) == data)
        }
        // Spaces, line ends and text without padding are read as mail programs read them.
        #expect(Self.decodeBase64("SGVs\r\n bG8=\r\n", splits: []) == Array("Hello".utf8))
        #expect(Self.decodeBase64("SGVsbG8", splits: [3]) == Array("Hello".utf8))
    }

    @Test func quotedPrintableDecoding() {
        let input = Array("caf=C3=A9 =3D ok=\r\nsoft=\nbreak\r\n=ZZ =4 end=".utf8)
        let expected = Array("caf\u{e9} = oksoftbreak\r\n=ZZ =4 end=".utf8)
        #expect(Self.decodeQP(input) == expected)
        for _ in 0..<200 {
            #expect(Self.decodeQP(input, splits: Self.randomSplits(input.count)) == expected)
        }
    }

    @Test func quotedPrintableEncodingReadsBack() {
        let samples: [[UInt8]] = [
            Array("PRODID:-//Veil//Veil//EN\r\nDESCRIPTION:caf\u{e9} = 100%\t \r\n".utf8),
            Array(String(repeating: "long line with = and spaces ", count: 20).utf8) + [13, 10],
            [13, 10, 13, 13, 10, 10, 32, 32, 13, 10, 9],
            (0..<2000).map { _ in UInt8.random(in: 0...255) },
        ]
        for sample in samples {
            let encoded = Self.encodeQP(sample, splits: Self.randomSplits(sample.count))
            #expect(encoded == Self.encodeQP(sample))
            // LF alone is a line break too, written as CRLF.
            var canonical: [UInt8] = []
            for (index, byte) in sample.enumerated() {
                if byte == 10 && (index == 0 || sample[index - 1] != 13) { canonical.append(13) }
                canonical.append(byte)
            }
            #expect(Self.decodeQP(encoded) == canonical)
            let lines = String(decoding: encoded, as: UTF8.self).components(separatedBy: "\r\n")
            #expect(lines.allSatisfy { $0.utf8.count <= 76 && !$0.hasSuffix(" ") && !$0.hasSuffix("\t") })
            #expect(encoded.allSatisfy { (32...126).contains($0) || $0 == 13 || $0 == 10 || $0 == 9 })
        }
    }

    @Test func calendarProductIDIsReplacedAndNothingElse() {
        let calendar = [
            "BEGIN:VCALENDAR",
            "METHOD:REQUEST",
            "PRODID:Microsoft Exchange Server 2010",
            "VERSION:2.0",
            "prodid;X-A=1:-//Microsoft Corporation//Outlook 16.0 MIMEDIR",
            " //EN",
            "\tmore",
            "PRODUCT:not the property",
            "PROD",
            "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE",
            "END:VCALENDAR",
            "PRODID:last line without end",
        ].joined(separator: "\r\n")
        let expected = [
            "BEGIN:VCALENDAR",
            "METHOD:REQUEST",
            "PRODID:-//Veil//Veil//EN",
            "VERSION:2.0",
            "PRODID:-//Veil//Veil//EN",
            "PRODUCT:not the property",
            "PROD",
            "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE",
            "END:VCALENDAR",
            "PRODID:-//Veil//Veil//EN",
        ].joined(separator: "\r\n")
        let input = Array(calendar.utf8)
        for splits in [[], Array(0..<input.count)] + (0..<100).map({ _ in Self.randomSplits(input.count) }) {
            #expect(String(decoding: Self.run(CalendarProductID(), input, splits: splits), as: UTF8.self) == expected)
        }
        var filter = CalendarProductID()
        var output: [UInt8] = []
        input.withUnsafeBytes { filter.code($0, into: &output) }
        #expect(filter.replaced == 3)
    }
}
