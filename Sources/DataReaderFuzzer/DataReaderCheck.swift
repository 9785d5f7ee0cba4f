import FuzzSupport
import NIOCore
import SMTPCore

/// One fuzz case for the message text readers: DATA (dot-unstuffing, the end of
/// data, bare CR/LF) and BDAT (line ends only). The result must not depend on how
/// the bytes arrive, every line of the text must end in CRLF, and what Veil sends
/// on (the text dot-stuffed again) must read back as the same text: nothing a
/// client sends can end the message early at the next hop.
enum DataReaderCheck {
    static func run(_ input: [UInt8]) {
        let policy: BareNewlinePolicy = input.first.map { $0 & 1 == 0 } ?? true ? .reject : .normalize
        let whole = readData(input, splits: [], policy: policy)
        precondition(readData(input, splits: Fuzzing.splits(of: input), policy: policy) == whole,
                     "DATA result depends on the split points")
        if input.count <= 256 {
            precondition(readData(input, splits: Array(0..<input.count), policy: policy) == whole,
                         "DATA result differs byte by byte")
        }
        checkCRLFClean(whole.text)
        if whole.result == .end {
            checkRoundTrip(whole.text)
        }

        let chunked = normalize(input, splits: [], policy: policy)
        precondition(normalize(input, splits: Fuzzing.splits(of: input), policy: policy) == chunked,
                     "BDAT result depends on the split points")
        if let text = chunked { checkCRLFClean(text) }
    }

    struct Outcome: Equatable {
        var text: [UInt8]
        var result: DataReader.Result
        /// Bytes left after the end of data (the next commands).
        var rest: Int
    }

    static func readData(_ input: [UInt8], splits: [Int], policy: BareNewlinePolicy) -> Outcome {
        var reader = DataReader(policy: policy)
        var output = ByteBuffer()
        var start = 0
        for end in splits + [input.count] where end > start {
            var piece = ByteBuffer(bytes: input[start..<end])
            let result = reader.read(&piece, into: &output)
            if result != .needMoreData {
                return Outcome(text: Array(output.readableBytesView), result: result,
                               rest: piece.readableBytes + input.count - end)
            }
            start = end
        }
        return Outcome(text: Array(output.readableBytesView), result: .needMoreData, rest: 0)
    }

    /// BDAT: nil when a bare CR/LF is refused.
    static func normalize(_ input: [UInt8], splits: [Int], policy: BareNewlinePolicy) -> [UInt8]? {
        var normalizer = LineEndingNormalizer(policy: policy)
        var output = ByteBuffer()
        var start = 0
        for end in splits + [input.count] where end > start {
            guard normalizer.process(ByteBuffer(bytes: input[start..<end]), into: &output) else { return nil }
            start = end
        }
        guard normalizer.finish(into: &output) else { return nil }
        return Array(output.readableBytesView)
    }

    /// Every CR is followed by LF and every LF preceded by CR.
    static func checkCRLFClean(_ text: [UInt8]) {
        for (index, byte) in text.enumerated() {
            if byte == 13 { precondition(index + 1 < text.count && text[index + 1] == 10, "bare CR in the text") }
            if byte == 10 { precondition(index > 0 && text[index - 1] == 13, "bare LF in the text") }
        }
    }

    /// The text dot-stuffed for the next hop reads back as itself, ending exactly
    /// at the final dot.
    static func checkRoundTrip(_ text: [UInt8]) {
        var encoder = OutboundTextEncoder(framing: .data)
        var wire = ByteBuffer()
        encoder.encode(ByteBuffer(bytes: text), into: &wire)
        encoder.finish(into: &wire)
        let sent = wire.readableBytes
        var reader = DataReader(policy: .reject)
        var back = ByteBuffer()
        precondition(reader.read(&wire, into: &back) == .end, "the text sent on does not end where it should")
        precondition(wire.readableBytes == 0, "the text sent on ends early (\(sent - wire.readableBytes) of \(sent) bytes)")
        precondition(Array(back.readableBytesView) == text, "the text sent on reads back differently")
    }
}
