import NIOCore

/// A leaf part whose content Veil changes: decoded, rewritten, encoded again with
/// the encoding it came in, chunk by chunk (nothing of the part is held whole).
///
/// - Calendar parts (text/calendar, application/ics): the PRODID is replaced
///   (``CalendarProductID``).
/// - Attached messages sent base64 or quoted-printable (message/rfc822,
///   message/global; text/rfc822-headers, message/global-headers): scrubbed by a
///   walker of their own, as an attached message in an identity encoding is.
struct ContentTransform: Sendable {
    enum Rewrite: Sendable {
        case calendar(CalendarProductID)
        indirect case message(MIMEWalker)
        /// Only while the walker of `message` is out of the enum being changed.
        case lent
    }

    private var decoder: any ContentCoder
    private var rewrite: Rewrite
    private var encoder: any ContentCoder

    init(encoding: TransferEncoding, rewrite: Rewrite) {
        decoder = encoding.decoder()
        encoder = encoding.encoder()
        self.rewrite = rewrite
    }

    mutating func process(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws(MessageRejection) {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(input.count)
        decoder.code(input, into: &decoded)
        try transform(decoded, finishing: false, into: &output)
    }

    /// The end of the part.
    mutating func finish(into output: inout [UInt8]) throws(MessageRejection) {
        var decoded: [UInt8] = []
        decoder.finish(into: &decoded)
        try transform(decoded, finishing: true, into: &output)
        encoder.finish(into: &output)
    }

    /// Rewrites done inside the part (for the log): PRODIDs replaced, or the
    /// attached message's walker's count.
    var rewrites: Int {
        switch rewrite {
        case .calendar(let calendar): calendar.replaced
        case .message(let walker): walker.rewrites
        case .lent: 0
        }
    }

    /// What the attached message's walker met.
    var walker: MIMEWalker? {
        if case .message(let walker) = rewrite { return walker }
        return nil
    }

    private mutating func transform(_ decoded: [UInt8], finishing: Bool, into output: inout [UInt8]) throws(MessageRejection) {
        switch rewrite {
        case .calendar(var calendar):
            var rewritten: [UInt8] = []
            decoded.withUnsafeBytes { calendar.code($0, into: &rewritten) }
            if finishing { calendar.finish(into: &rewritten) }
            rewrite = .calendar(calendar)
            rewritten.withUnsafeBytes { encoder.code($0, into: &output) }
        case .message(var walker):
            // Let go of the enum's copy, so that the walker's buffers are not copied
            // when it changes them.
            rewrite = .lent
            var buffers: [ByteBuffer] = []
            defer { rewrite = .message(walker) }
            if !decoded.isEmpty { try walker.process(ByteBuffer(bytes: decoded), into: &buffers) }
            if finishing { try walker.finish(into: &buffers) }
            for buffer in buffers { buffer.withUnsafeReadableBytes { encoder.code($0, into: &output) } }
        case .lent:
            preconditionFailure("the walker is lent out only inside this function")
        }
    }
}
