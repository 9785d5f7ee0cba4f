import NIOCore
import Testing
@testable import SMTPCore

@Suite struct CommandLineFramerTests {
    func lines(_ text: String, policy: BareNewlinePolicy = .reject, limit: Int = 510, chunked: Bool = false) -> [String] {
        var framer = CommandLineFramer(policy: policy)
        var buffer = ByteBuffer()
        var found: [String] = []
        let bytes = Array(text.utf8)
        let pieces: [ArraySlice<UInt8>] = chunked ? bytes.indices.map { bytes[$0...$0] } : [bytes[...]]
        for piece in pieces {
            buffer.writeBytes(piece)
            loop: while true {
                switch framer.nextLine(from: &buffer, maximumLength: limit) {
                case .line(let line): found.append(String(buffer: line))
                case .tooLong: found.append("<too long>")
                case .bareNewline: found.append("<bare>"); break loop
                case .needMoreData: break loop
                }
            }
        }
        return found
    }

    @Test func splitsAtCRLFWhateverTheChunks() {
        for chunked in [false, true] {
            #expect(lines("EHLO a\r\nMAIL FROM:<>\r\npartial", chunked: chunked) == ["EHLO a", "MAIL FROM:<>"])
        }
    }

    @Test func bareLineEndsAreRefusedOrNormalized() {
        #expect(lines("NOOP\nQUIT\r\n") == ["<bare>"])
        #expect(lines("NOOP\rQUIT\r\n") == ["<bare>"])
        #expect(lines("NOOP\nQUIT\rRSET\r\n", policy: .normalize) == ["NOOP", "QUIT", "RSET"])
    }

    @Test func overlongLinesAreSkippedToTheirEnd() {
        let long = String(repeating: "x", count: 600)
        for chunked in [false, true] {
            #expect(lines("\(long)\r\nNOOP\r\n", chunked: chunked) == ["<too long>", "NOOP"])
        }
        #expect(lines("\(long)\r\nNOOP\r\n", limit: 1000) == [long, "NOOP"])
    }
}
