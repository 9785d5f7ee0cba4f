import FuzzSupport
import MessageRewriter
import NIOCore

/// One fuzz case for the rewriter (header block and MIME walker): it must not crash,
/// its output must not depend on how the input is split, and no removed field may be
/// left at the start of a line of the output header block. The seeds hold multipart
/// and embedded messages, so the walker's paths are explored too; its memory is
/// bounded by its design (one header block, one held line), checked by libFuzzer's
/// RSS limit.
enum RewriterCheck {
    static let configuration = ScrubConfiguration(
        rules: ScrubRules(profile: ExchangeProfile.removedFields, remove: [], keep: []), rewriteMessageIDs: true,
        key: [UInt8](repeating: 1, count: 32), hostname: "relay.example", maximumHeaderSize: 64 * 1024, maximumHops: 50)
    static let context = MessageContext(traceField: nil, date: "Mon, 30 Nov 2026 00:00:00 +0000",
                                        generatedMessageID: "<generated@relay.example>")

    static func run(_ input: [UInt8]) {
        let whole = rewrite(input, splits: [])
        precondition(rewrite(input, splits: Fuzzing.splits(of: input)) == whole, "output depends on the split points")
        if input.count <= 256 {
            precondition(rewrite(input, splits: Array(0..<input.count)) == whole, "byte-by-byte output differs")
        }
        if case .success(let output)? = whole {
            checkNoRemovedField(in: output)
        }
    }

    static func rewrite(_ input: [UInt8], splits: [Int]) -> Result<[UInt8], MessageRejection>? {
        var rewriter = MessageRewriter(configuration: configuration, context: context)
        var output: [ByteBuffer] = []
        var start = 0
        do throws(MessageRejection) {
            for end in splits + [input.count] where end > start {
                try rewriter.process(ByteBuffer(bytes: input[start..<end]), into: &output)
                start = end
            }
            try rewriter.finish(into: &output)
        } catch {
            return .failure(error)
        }
        return .success(output.flatMap { Array($0.readableBytesView) })
    }

    /// Field names at line starts of the output header block (up to the first empty
    /// line) must not be ones the profile removes.
    static func checkNoRemovedField(in output: [UInt8]) {
        let lowercased = output.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
        var lineStart = 0
        while lineStart < lowercased.count {
            let lineEnd = lowercased[lineStart...].firstIndex(of: 10).map { $0 + 1 } ?? lowercased.count
            let line = lowercased[lineStart..<lineEnd]
            if line.first == 13 || line.first == 10 { return }
            if let colon = line.firstIndex(of: UInt8(ascii: ":")), line.first != 32, line.first != 9 {
                var name = line[lineStart..<colon]
                while name.last == 32 || name.last == 9 { name = name.dropLast() }
                for entry in ExchangeProfile.removedFields {
                    let pattern = Array(entry.lowercased().utf8)
                    let removed = pattern.last == UInt8(ascii: "*") ? name.starts(with: pattern.dropLast()) : name.elementsEqual(pattern)
                    precondition(!removed, "removed field \(entry) left in the output")
                }
            }
            lineStart = lineEnd
        }
    }
}
