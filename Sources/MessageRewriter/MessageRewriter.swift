#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Streams a message from the SMTP reader to the spool, scrubbing its header block
/// and its MIME structure.
///
/// The header block (RFC 5322 §2.2, up to the first empty line) is gathered, bounded
/// by `maximumHeaderSize`, then rewritten at once: Veil's trace field on top, fields
/// matched by the rules removed, message ids replaced by keyed hashes, boundaries
/// replaced, a missing Date or Message-ID added. Kept fields keep their exact bytes,
/// folding included. The body then goes through the ``MIMEWalker``, which rewrites
/// boundaries, the header blocks of parts and attached messages, and the content
/// of TNEF, calendar and encoded message parts, and passes everything else on as
/// slices of the input, byte for byte. The output is the same for every split of
/// the same input.
public struct MessageRewriter: Sendable {
    public let configuration: ScrubConfiguration
    public let context: MessageContext
    /// Header fields removed or rewritten so far (for the log; never their names).
    public private(set) var scrubbedFields = 0
    /// The message's From, Sender, Resent-From and Resent-Sender fields as received,
    /// once the header block is read (for the sender-domain check of restricted users).
    public private(set) var originatorFields: [[UInt8]] = []
    /// Boundary parameters, delimiter lines, part and attached-message header fields
    /// and calendar PRODIDs rewritten.
    public var mimeRewrites: Int { boundariesInHeader + walker.rewrites }
    /// Why part of the body passed without being read, if it did (for the log).
    public var mimeSkipped: String? { walker.skipped?.description }
    /// TNEF parts removed (`tnef = "remove"`).
    public var tnefRemoved: Int { walker.tnefRemoved }

    private var header: [UInt8] = []
    private var inHeader = true
    private var atLineStart = true
    private var carriageReturnAtLineStart = false
    private var boundariesInHeader = 0
    private var walker: MIMEWalker

    public init(configuration: ScrubConfiguration, context: MessageContext) {
        self.configuration = configuration
        self.context = context
        self.walker = MIMEWalker(configuration: configuration)
    }

    /// Appends the rewritten form of `chunk` to `output`.
    public mutating func process(_ chunk: ByteBuffer, into output: inout [ByteBuffer]) throws(MessageRejection) {
        guard inHeader else {
            try walker.process(chunk, into: &output)
            return
        }
        let end = findHeaderEnd(chunk)
        chunk.withUnsafeReadableBytes { header.append(contentsOf: $0.prefix(end ?? $0.count)) }
        guard header.count <= configuration.maximumHeaderSize else { throw .headerBlockTooLarge }
        guard let end else { return }
        inHeader = false
        output.append(try rewriteHeaderBlock())
        if end < chunk.readableBytes {
            try walker.process(chunk.getSlice(at: chunk.readerIndex + end, length: chunk.readableBytes - end)!, into: &output)
        }
    }

    /// Ends the message: a message that is all header block (no empty line, no body)
    /// is rewritten here.
    public mutating func finish(into output: inout [ByteBuffer]) throws(MessageRejection) {
        guard inHeader else {
            try walker.finish(into: &output)
            return
        }
        inHeader = false
        output.append(try rewriteHeaderBlock())
        try walker.finish(into: &output)
    }

    /// The offset just past the empty line that ends the header block, if it is in
    /// `chunk` (NUL bytes are looked for once the block is complete).
    private mutating func findHeaderEnd(_ chunk: ByteBuffer) -> Int? {
        chunk.withUnsafeReadableBytes { bytes -> Int? in
            guard let base = bytes.baseAddress else { return nil }
            var offset = 0
            while offset < bytes.count {
                if atLineStart {
                    let byte = bytes[offset]
                    if byte == UInt8(ascii: "\n") { return offset + 1 }
                    if byte == UInt8(ascii: "\r") && !carriageReturnAtLineStart {
                        carriageReturnAtLineStart = true
                        offset += 1
                        continue
                    }
                    atLineStart = false
                    carriageReturnAtLineStart = false
                }
                guard let lf = memchr(base + offset, 0x0A, bytes.count - offset) else { return nil }
                offset = UnsafeRawPointer(lf) - base + 1
                atLineStart = true
            }
            return nil
        }
    }

    // MARK: The header block

    private mutating func rewriteHeaderBlock() throws(MessageRejection) -> ByteBuffer {
        let fields = try HeaderField.split(header)
        header = []
        // What the block holds, before anything is removed: the hops (RFC 5321
        // §6.3), the From fields (RFC 5322 §3.6: exactly one; a missing one is not
        // this check's business), the fields that name a sender, Date, Message-ID.
        var hops = 0
        var froms = 0
        var hasDate = false
        var ownMessageID: ArraySlice<UInt8>?
        for field in fields.fields {
            let name = field.lowercasedName
            if name.elementsEqual(Self.received) {
                hops += 1
            } else if name.elementsEqual(Self.date) {
                hasDate = true
            } else if ownMessageID == nil && name.elementsEqual(FieldScrubber.Scope.messageIDName) {
                ownMessageID = field.bytes
            } else if Self.isOriginator(name) {
                originatorFields.append(Array(field.bytes))
                if name.elementsEqual(Self.from) { froms += 1 }
            }
        }
        guard hops <= configuration.maximumHops else { throw .tooManyHops }
        guard froms <= 1 else { throw .multipleFrom }

        var output = ByteBuffer()
        output.reserveCapacity(fields.totalSize + 256)
        if let trace = context.traceField {
            output.writeString(trace)
            output.writeStaticString("\r\n")
        }
        var scrubber = FieldScrubber(configuration: configuration,
                                     scope: .message(ownMessageID: ownMessageID, configuration: configuration))
        for field in fields.fields {
            scrubber.write(field, into: &output)
        }
        scrubbedFields += scrubber.changedFields
        boundariesInHeader += scrubber.replacedBoundaries
        try walker.start(scrubber.entity)
        // A text that is only a header block may end without a line end (BDAT):
        // the last field gets one, so that the fields added below stay fields.
        if let last = output.readableBytesView.last, last != UInt8(ascii: "\n") {
            output.writeStaticString("\r\n")
        }
        if !hasDate {
            output.writeString("Date: \(context.date)\r\n")
        }
        if ownMessageID == nil {
            output.writeString("Message-ID: \(context.generatedMessageID)\r\n")
        }
        output.writeBytes(fields.separator)
        return output
    }

    private static let received = Array("received".utf8)
    private static let date = Array("date".utf8)
    private static let from = Array("from".utf8)
    private static let originators = ["from", "sender", "resent-from", "resent-sender"].map { Array($0.utf8) }

    /// From, Sender, Resent-From, Resent-Sender.
    private static func isOriginator(_ name: ArraySlice<UInt8>) -> Bool {
        guard let first = name.first, first == UInt8(ascii: "f") || first == UInt8(ascii: "s") || first == UInt8(ascii: "r")
        else { return false }
        return originators.contains { name.elementsEqual($0) }
    }
}
