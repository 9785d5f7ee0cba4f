import NIOCore
import Testing
@testable import SMTPCore

/// Feeds the reader the same input whole, byte by byte and at random split points;
/// every split must give the same text, the same end and the same leftover.
@Suite struct DataReaderTests {
    struct Outcome: Equatable {
        var text: [UInt8]
        var result: DataReader.Result
        var rest: [UInt8]
    }

    func read(_ input: [UInt8], policy: BareNewlinePolicy, splits: [Int]) -> Outcome {
        var reader = DataReader(policy: policy)
        var output = ByteBuffer()
        var pending = ByteBuffer()
        var start = 0
        for end in splits + [input.count] where end >= start {
            pending.writeBytes(input[start..<end])
            start = end
            let result = reader.read(&pending, into: &output)
            if result != .needMoreData {
                pending.writeBytes(input[start...])
                return Outcome(text: Array(output.readableBytesView), result: result, rest: Array(pending.readableBytesView))
            }
        }
        return Outcome(text: Array(output.readableBytesView), result: .needMoreData, rest: [])
    }

    func everySplit(_ text: String, policy: BareNewlinePolicy = .reject) -> Outcome {
        let input = Array(text.utf8)
        let whole = read(input, policy: policy, splits: [])
        #expect(read(input, policy: policy, splits: Array(0..<input.count)) == whole, "byte by byte")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let splits = (0..<3).map { _ in Int.random(in: 0...input.count, using: &generator) }.sorted()
            #expect(read(input, policy: policy, splits: splits) == whole, "splits \(splits)")
        }
        return whole
    }

    @Test func endsAtCRLFDotCRLFAndKeepsWhatFollows() {
        let outcome = everySplit("Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        #expect(outcome.result == .end)
        #expect(outcome.text == Array("Subject: x\r\n\r\nbody\r\n".utf8))
        #expect(outcome.rest == Array("QUIT\r\n".utf8))
    }

    @Test func emptyMessage() {
        let outcome = everySplit(".\r\n")
        #expect(outcome.result == .end)
        #expect(outcome.text.isEmpty)
    }

    @Test func removesTransparencyDots() {
        let outcome = everySplit("..leading\r\n...two\r\n.x\r\nmid.dle\r\n.\r\n")
        #expect(outcome.text == Array(".leading\r\n..two\r\nx\r\nmid.dle\r\n".utf8))
        #expect(outcome.result == .end)
    }

    @Test func passesBinaryAndNULBytesInLines() {
        let outcome = everySplit("a\u{0}b\u{7f}\u{e9}\r\n.\r\n")
        #expect(outcome.text == Array("a\u{0}b\u{7f}\u{e9}\r\n".utf8))
    }

    @Test func needsMoreDataWithoutTheEnd() {
        let outcome = everySplit("line\r\n.\r")
        #expect(outcome.result == .needMoreData)
    }

    /// The twelve SMTP smuggling end-of-data variants: none of them ends the data.
    static let smugglingVectors = [
        "\n.\n", "\n.\r", "\r.\n", "\r.\r", "\n.\r\n", "\r.\r\n", "\r\n.\n", "\r\n.\r",
        "\r\n\u{0}.\r\n", "\r\n.\u{0}\r\n", "\r\n.\r\r\n", "\r\r\n.\r\r\n",
    ]

    @Test(arguments: smugglingVectors)
    func smugglingNeverEndsTheData(vector: String) {
        let smuggled = "Subject: a\r\n\r\nbody" + vector + "MAIL FROM:<x@y.example>\r\nRCPT TO:<z@w.example>\r\nDATA\r\nsmuggled\r\n.\r\n"
        let normalized = everySplit(smuggled, policy: .normalize)
        // In normalize mode the data ends only at the genuine final CRLF.CRLF, so the
        // "smuggled" commands are message text.
        #expect(normalized.result == .end)
        #expect(normalized.rest.isEmpty)
        #expect(String(decoding: normalized.text, as: UTF8.self).contains("MAIL FROM:<x@y.example>"))
        #expect(!normalized.text.containsBareNewline)

        let rejected = everySplit(smuggled, policy: .reject)
        if vector.contains("\u{0}") {
            #expect(rejected.result == .end)
            #expect(rejected.rest.isEmpty)
        } else {
            #expect(rejected.result == .bareNewline)
        }
    }
}

extension [UInt8] {
    /// A CR not followed by LF, or an LF not preceded by CR.
    var containsBareNewline: Bool {
        for (index, byte) in enumerated() {
            if byte == 13 && (index + 1 == count || self[index + 1] != 10) { return true }
            if byte == 10 && (index == 0 || self[index - 1] != 13) { return true }
        }
        return false
    }
}
