import Foundation
import NIOCore
import Testing
@testable import MessageRewriter

/// One pass of the rewriter over a whole message: what it wrote (or why it refused
/// the message) and the counts Veil logs on the `accepted` line.
struct Rewritten: Equatable {
    var result: Result<[UInt8], MessageRejection>
    /// `mime_rewritten`: boundary parameters, delimiter lines, part and attached
    /// header fields, calendar PRODIDs.
    var rewrites: Int
    /// `mime_skipped`: why part of the body passed unread.
    var skipped: String?
    /// `tnef_removed`.
    var tnefRemoved: Int

    var output: [UInt8] { (try? result.get()) ?? [] }
    var rejection: MessageRejection? {
        if case .failure(let rejection) = result { return rejection }
        return nil
    }
    /// The output after the top-level header block.
    var body: [UInt8] { output.body }
}

/// The rewriter as Veil runs it between the SMTP reader and the spool, fed the same
/// message whole and cut in many ways: every way must give the same result.
enum Rewriting {
    /// Veil's default `[limits] max_header_size`.
    static let defaultHeaderSize = 256 * 1024

    /// `[scrub]` as an administrator sets it: the allowlist (Veil's default) or the
    /// denylist with the exchange profile; ids rewritten; TNEF refused unless told.
    static func configuration(_ mode: ScrubRules.Mode, tnef: ScrubConfiguration.TNEFPolicy = .reject,
                              maximumHeaderSize: Int = defaultHeaderSize, embeddedMessages: Bool = true)
        -> ScrubConfiguration {
        var configuration = MessageRewriterTests.configuration(mode: mode, maximumHeaderSize: maximumHeaderSize)
        configuration.tnef = tnef
        configuration.scrubEmbeddedMessages = embeddedMessages
        return configuration
    }

    /// `input` through a new rewriter, cut at `splits`.
    static func once(_ input: [UInt8], _ configuration: ScrubConfiguration, splits: [Int] = [],
                     context: MessageContext = MessageRewriterTests.context) -> Rewritten {
        var rewriter = MessageRewriter(configuration: configuration, context: context)
        var output: [ByteBuffer] = []
        var start = 0
        let result: Result<[UInt8], MessageRejection>
        do throws(MessageRejection) {
            for end in splits + [input.count] where end > start {
                try rewriter.process(ByteBuffer(bytes: input[start..<end]), into: &output)
                start = end
            }
            try rewriter.finish(into: &output)
            result = .success(output.flatMap { Array($0.readableBytesView) })
        } catch {
            result = .failure(error)
        }
        return Rewritten(result: result, rewrites: rewriter.mimeRewrites, skipped: rewriter.mimeSkipped,
                         tnefRemoved: rewriter.tnefRemoved)
    }

    /// The result for the whole input, after checking that it is the same for other
    /// cuts: byte by byte and at random points for a small message, in chunks of a
    /// few sizes for a large one (a debug build reads a few megabytes a second).
    static func run(_ input: [UInt8], _ configuration: ScrubConfiguration,
                    sourceLocation: SourceLocation = #_sourceLocation) -> Rewritten {
        let whole = once(input, configuration)
        for splits in cuts(input.count) {
            let cut = once(input, configuration, splits: splits)
            #expect(cut == whole, "cut in \(splits.count + 1) pieces, the output differs", sourceLocation: sourceLocation)
            if cut != whole { break }
        }
        return whole
    }

    static func cuts(_ count: Int) -> [[Int]] {
        var generator = SplitMix64(seed: UInt64(count))
        if count <= 20_000 {
            let random = (0..<10).map { _ in
                (0..<Int.random(in: 1...200, using: &generator)).map { _ in Int.random(in: 0...count, using: &generator) }.sorted()
            }
            return [Array(1..<max(1, count))] + random
        }
        let sizes = count <= 1_000_000 ? [97, 4093, 65536] : [65536]
        return sizes.map { size in Array(stride(from: size, to: count, by: size)) }
    }
}

/// A seeded generator, so that random test data is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 8)
        while bytes.count < count {
            withUnsafeBytes(of: generator.next()) { bytes.append(contentsOf: $0) }
        }
        return Array(bytes.prefix(count))
    }
}

/// What Veil writes in place of an old boundary, an old message id.
enum Keyed {
    static func boundary(_ old: String) -> String { boundary(Array(old.utf8)) }
    static func boundary(_ old: [UInt8]) -> String {
        String(decoding: Boundary.replacement(for: old[...], key: HMACKey(MessageRewriterTests.key)), as: UTF8.self)
    }

    /// `<id>` as Veil maps it (RFC 5322 msg-id without its angle brackets in, with them out).
    static func messageID(_ original: String) -> String {
        "<\(Base32.encode(Array(original.utf8).withUnsafeBytes { HMACKey(MessageRewriterTests.key).authenticate($0) }))@relay.example>"
    }
}
