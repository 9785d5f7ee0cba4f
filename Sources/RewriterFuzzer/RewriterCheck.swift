import FuzzSupport
import MessageRewriter
import NIOCore

/// One fuzz case for the rewriter (header block, MIME walker, leaf content): it
/// must not crash, its output must not depend on how the input is split, and no
/// field outside the allowlist may leave: not in the output's header block, nor in
/// the header block of any part the walker read. The seeds hold multipart,
/// embedded, TNEF, calendar and encoded messages, so the walker's paths are
/// explored too; its memory is bounded by its design (one header block, one held
/// line, a few KB of a leaf part), checked by libFuzzer's RSS limit.
enum RewriterCheck {
    static let configuration = ScrubConfiguration(
        rules: .allowlist(keep: [], remove: []), rewriteMessageIDs: true,
        key: [UInt8](repeating: 1, count: 32), hostname: "relay.example", maximumHeaderSize: 64 * 1024, maximumHops: 50,
        tnef: .remove)
    static let context = MessageContext(traceField: nil, date: "Mon, 30 Nov 2026 00:00:00 +0000",
                                        generatedMessageID: "<generated@relay.example>")

    struct Outcome: Equatable {
        var output: [UInt8]
        /// Whether some part passed without being read (signed, too deep, too large).
        var partsSkipped: Bool
    }

    static func run(_ input: [UInt8]) {
        let whole = rewrite(input, splits: [])
        precondition(rewrite(input, splits: Fuzzing.splits(of: input)) == whole, "output depends on the split points")
        if input.count <= 256 {
            precondition(rewrite(input, splits: Array(0..<input.count)) == whole, "byte-by-byte output differs")
        }
        guard case .success(let outcome)? = whole else { return }
        let lowercased = outcome.output.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
        checkAllowlisted(lowercased, from: 0)
        // The header blocks after the new delimiter lines are the parts' own, unless
        // the walker says it left some alone or the input wrote such lines itself.
        guard !outcome.partsSkipped, input.firstRange(of: newBoundaryPrefix) == nil else { return }
        var lineStart = 0
        while lineStart < lowercased.count {
            let lineEnd = lowercased[lineStart...].firstIndex(of: 10).map { $0 + 1 } ?? lowercased.count
            let line = lowercased[lineStart..<lineEnd]
            if line.starts(with: [45, 45] + newBoundaryPrefix), !isClosingDelimiter(line) {
                checkAllowlisted(lowercased, from: lineEnd)
            }
            lineStart = lineEnd
        }
    }

    static func rewrite(_ input: [UInt8], splits: [Int]) -> Result<Outcome, MessageRejection>? {
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
        return .success(Outcome(output: output.flatMap { Array($0.readableBytesView) }, partsSkipped: rewriter.mimeSkipped != nil))
    }

    static let newBoundaryPrefix = Array("=_veil_".utf8)

    static func isClosingDelimiter(_ line: ArraySlice<UInt8>) -> Bool {
        // "--" + "=_veil_" + 32 base32 characters, then "--" for the close delimiter.
        let end = line.startIndex + 2 + newBoundaryPrefix.count + 32
        return line.count >= end - line.startIndex + 2 && line[end] == 45 && line[end + 1] == 45
    }

    /// The header block that starts at `start` of the (lower-cased) output: its
    /// field lines, up to the empty line or the first line that is no field line.
    /// Each field must be on the allowlist (compared here with the documented list,
    /// not with the rewriter's own matcher), Bcc never, or be Veil's trace field.
    static func checkAllowlisted(_ output: [UInt8], from start: Int) {
        var lineStart = start
        while lineStart < output.count {
            let lineEnd = output[lineStart...].firstIndex(of: 10).map { $0 + 1 } ?? output.count
            let line = output[lineStart..<lineEnd]
            lineStart = lineEnd
            if line.first == 32 || line.first == 9 { continue }
            var nameEnd = line.startIndex
            while nameEnd < line.endIndex, (33...126).contains(line[nameEnd]), line[nameEnd] != 58 { nameEnd += 1 }
            var colon = nameEnd
            while colon < line.endIndex, line[colon] == 32 || line[colon] == 9 { colon += 1 }
            guard nameEnd > line.startIndex, colon < line.endIndex, line[colon] == 58 else { return }
            let name = line[line.startIndex..<nameEnd]
            precondition(isAllowed(name) || line.starts(with: ownTrace),
                         "field \(String(decoding: name, as: UTF8.self)) outside the allowlist left in the output")
        }
    }

    static let ownTrace = Array("received: by relay.example (veil) ".utf8)
    static let allowed = Allowlist.fields.map { Array($0.lowercased().utf8) }
    static let neverAllowed = [Array("bcc".utf8), Array("resent-bcc".utf8)]

    static func isAllowed(_ name: ArraySlice<UInt8>) -> Bool {
        guard !neverAllowed.contains(where: { name.elementsEqual($0) }) else { return false }
        return allowed.contains { entry in
            entry.last == UInt8(ascii: "*") ? name.starts(with: entry.dropLast()) : name.elementsEqual(entry)
        }
    }
}
