import NIOCore

/// Transport-Neutral Encapsulation Format (`winmail.dat`): Outlook's rich text and
/// MAPI properties in one binary attachment ([MS-OXTNEF]). It carries the sender's
/// legacy Exchange DN (`/O=.../OU=EXCHANGE ADMINISTRATIVE GROUP
/// (FYDIBOHF23SPDLT)/CN=RECIPIENTS/...`) and server names, so it never leaves Veil.
enum TNEF {
    /// [MS-OXTNEF] §2.1.3.1: the stream starts with 0x223E9F78, little-endian.
    static let signature: [UInt8] = [0x78, 0x9F, 0x3E, 0x22]

    /// A part is TNEF by its media type or its file name.
    static func isDeclared(_ entity: EntityHeader) -> Bool {
        if let type = entity.contentType?.mediaType, mediaTypes.contains(type) { return true }
        return entity.fileNames.contains { $0.count == fileName.count && zip($0, fileName).allSatisfy { $0.asciiLowercased == $1 } }
    }

    private static let mediaTypes = ["application/ms-tnef", "application/vnd.ms-tnef"].map { Array($0.utf8) }
    private static let fileName = Array("winmail.dat".utf8)
}

/// Decides whether a part's content is TNEF from its first decoded bytes. Until it
/// knows, it holds what the walker must not write yet: the part's delimiter line
/// and header block, and the content read so far, at most ``lookahead`` bytes of
/// it. Content that has given no four decoded bytes by then (spaces and line ends
/// before base64) is written, and read on without holding: the part can then no
/// longer be removed, so TNEF found later refuses the message.
struct TNEFSniffer: Sendable {
    static let lookahead = 4096

    enum Verdict {
        case tnef
        case other
    }

    private let encoding: TransferEncoding
    /// Made when the first byte of content does not settle the verdict alone.
    private var decoder: (any ContentCoder)?
    private var decoded: [UInt8] = []
    private var seen = 0
    /// The delimiter line, the header block and the content read so far.
    private(set) var held: ByteBuffer
    private(set) var isHolding = true
    /// The part is a part of a multipart (not a message's body), so it can be removed.
    let inPart: Bool
    private(set) var verdict: Verdict?

    /// The part can be removed: it is a part of a multipart and nothing of it was
    /// written yet.
    var canRemove: Bool { inPart && isHolding }

    init(encoding: TransferEncoding, held: ByteBuffer, inPart: Bool) {
        self.encoding = encoding
        self.held = held
        self.inPart = inPart
    }

    /// Reads content until the verdict, a few bytes at a time (so that the verdict
    /// costs little whatever the chunk size); returns how many bytes of `input` it
    /// read. While holding, what it read is held; it stops holding (and returns)
    /// when the lookahead is full.
    mutating func take(_ input: UnsafeRawBufferPointer) -> Int {
        if seen == 0, let first = input.first, !Self.mayStartTNEF(first) {
            // Most content settles it at its first byte, with nothing to decode.
            verdict = .other
            return 0
        }
        var count = 0
        while verdict == nil && count < input.count {
            var step = min(input.count - count, Self.step)
            if isHolding { step = min(step, Self.lookahead - seen) }
            let taken = UnsafeRawBufferPointer(rebasing: input[count..<(count + step)])
            if isHolding { held.writeBytes(taken) }
            seen += step
            count += step
            if decoder == nil { decoder = encoding.decoder() }
            decoder!.code(taken, into: &decoded)
            if decoded.count >= TNEF.signature.count {
                verdict = decoded.starts(with: TNEF.signature) ? .tnef : .other
            } else if isHolding && seen == Self.lookahead {
                isHolding = false
                break
            }
        }
        return count
    }

    /// Stops holding: the held bytes, for the walker to write.
    mutating func release() -> ByteBuffer {
        defer { held = ByteBuffer() }
        return held
    }

    /// The end of the part: the verdict on what there is.
    mutating func finish() {
        guard verdict == nil else { return }
        decoder?.finish(into: &decoded)
        verdict = decoded.starts(with: TNEF.signature) ? .tnef : .other
    }

    /// Enough for four decoded bytes in every encoding, unless spaces or line ends
    /// come first.
    private static let step = 16

    /// Whether content whose first byte is `byte` can decode to TNEF: 0x78 is `x`
    /// as it stands and in quoted-printable (or `=78`), `eJ` in base64; white space
    /// may come first in base64.
    private static func mayStartTNEF(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "x") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "=")
            || byte == 32 || byte == 9 || byte == 13 || byte == 10
    }
}
