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
        return entity.fileNames.contains { $0.asciiLowercased() == fileName }
    }

    private static let mediaTypes = ["application/ms-tnef", "application/vnd.ms-tnef"].map { Array($0.utf8) }
    private static let fileName = Array("winmail.dat".utf8)
}

/// Decides whether a part's content is TNEF from its first decoded bytes, holding
/// what the walker must not write before it knows: the part's delimiter line and
/// header block, and the content read so far (at most ``lookahead`` bytes of it).
struct TNEFSniffer: Sendable {
    /// Content that has not given four decoded bytes by then is not TNEF.
    static let lookahead = 4096

    enum Verdict {
        case tnef
        case other
    }

    private var decoder: any ContentCoder
    private var decoded: [UInt8] = []
    private var seen = 0
    /// The delimiter line, the header block and the content read so far.
    private(set) var held: [UInt8]
    /// The part can be removed: it is a part of a multipart, not a message's body.
    let inPart: Bool
    private(set) var verdict: Verdict?

    init(encoding: TransferEncoding, held: [UInt8], inPart: Bool) {
        decoder = encoding.decoder()
        self.held = held
        self.inPart = inPart
    }

    /// Reads content until the verdict; returns how many bytes of `input` it took
    /// (and holds): all of them while there is no verdict yet. It decodes a few
    /// bytes at a time, so that the verdict costs little whatever the chunk size.
    mutating func take(_ input: UnsafeRawBufferPointer) -> Int {
        var count = 0
        while verdict == nil && count < input.count {
            let step = min(input.count - count, Self.step, Self.lookahead - seen)
            let taken = UnsafeRawBufferPointer(rebasing: input[count..<(count + step)])
            held += taken
            seen += step
            count += step
            decoder.code(taken, into: &decoded)
            if decoded.count >= TNEF.signature.count {
                verdict = decoded.starts(with: TNEF.signature) ? .tnef : .other
            } else if seen == Self.lookahead {
                verdict = .other
            }
        }
        return count
    }

    /// Enough for four decoded bytes in every encoding, unless spaces or line ends
    /// come first.
    private static let step = 16

    /// The end of the part: the verdict on what there is.
    mutating func finish() -> Verdict {
        if let verdict { return verdict }
        decoder.finish(into: &decoded)
        verdict = decoded.starts(with: TNEF.signature) ? .tnef : .other
        return verdict!
    }
}
