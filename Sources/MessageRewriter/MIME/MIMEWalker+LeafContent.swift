import NIOCore

/// What happens to the content of a leaf part (one that is neither a multipart nor
/// an attached message read in place) as it streams past.
enum LeafContent: Sendable {
    /// Passes byte for byte.
    case pass
    /// Held until its first decoded bytes say whether it is TNEF.
    case sniffing(TNEFSniffer)
    /// A TNEF part removed with `tnef = "remove"`: nothing of it is written.
    case dropped
    /// Decoded, rewritten and encoded again (calendar parts, encoded attached messages).
    case transformed(ContentTransform)
}

extension MIMEWalker {
    /// Sets up the content of a leaf part whose header block said `entity` and was
    /// rewritten as `written` (with the part's delimiter line; nothing of it is
    /// written yet). `inPart`: it is a part of a multipart, which can be removed; the
    /// body of a message cannot.
    mutating func enterLeaf(_ entity: EntityHeader, depth: Int, inPart: Bool, written: ByteBuffer,
                            _ emitter: inout ChunkEmitter) throws(MessageRejection) {
        if TNEF.isDeclared(entity) {
            try tnefFound(removable: inPart)
            return
        }
        let encoding = entity.encoding
        // Rewritten content must not be read as more header fields: a header block
        // that ended at a line that was no field line gets its empty line.
        var header = written
        if !entity.endsWithEmptyLine { header.writeStaticString("\r\n") }
        if let block = entity.contentType?.embeddedBlock, encoding == .base64 || encoding == .quotedPrintable,
           configuration.scrubEmbeddedMessages {
            guard depth + 1 <= Self.maximumDepth else {
                try unread(.depth)
                leaf = .sniffing(TNEFSniffer(encoding: encoding, held: written, inPart: inPart))
                return
            }
            emitter.insert(header)
            let walker = MIMEWalker(configuration: configuration, embedded: block, depth: depth + 1)
            leaf = .transformed(ContentTransform(encoding: encoding, rewrite: .message(walker)))
        } else if entity.contentType?.isCalendar == true, encoding != .other {
            emitter.insert(header)
            leaf = .transformed(ContentTransform(encoding: encoding, rewrite: .calendar(CalendarProductID())))
        } else {
            leaf = .sniffing(TNEFSniffer(encoding: encoding, held: written, inPart: inPart))
        }
    }

    /// Content of the leaf part that stands at `range` of the chunk: it passes
    /// unless the part's content is handled.
    mutating func content(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ emitter: inout ChunkEmitter) throws(MessageRejection) {
        guard !range.isEmpty else { return }
        switch leaf {
        case .pass:
            return
        case .dropped:
            emitter.hold(range)
        case .sniffing(var sniffer):
            leaf = .pass
            let wasHolding = sniffer.isHolding
            let read = sniffer.take(UnsafeRawBufferPointer(rebasing: bytes[range]))
            if wasHolding {
                emitter.hold(range.lowerBound..<(range.lowerBound + read))
                if !sniffer.isHolding { emitter.insert(sniffer.release()) }
            }
            try sniffed(sniffer, &emitter)
            try content(bytes, (range.lowerBound + read)..<range.upperBound, &emitter)
        case .transformed(var transform):
            leaf = .pass
            emitter.hold(range)
            var output: [UInt8] = []
            try transform.process(UnsafeRawBufferPointer(rebasing: bytes[range]), into: &output)
            emitter.insert(output)
            leaf = .transformed(transform)
        }
    }

    /// Content of the leaf part that was held back (a line that turned out not to
    /// be a delimiter): written here if it passes.
    mutating func content(_ line: [UInt8], _ emitter: inout ChunkEmitter) throws(MessageRejection) {
        guard case .pass = leaf else {
            let buffer = ByteBuffer(bytes: line)
            var chunk = ChunkEmitter(chunk: buffer)
            try buffer.withUnsafeReadableBytes { bytes throws(MessageRejection) in try content(bytes, 0..<bytes.count, &chunk) }
            var output: [ByteBuffer] = []
            chunk.finish(into: &output)
            for buffer in output { emitter.insert(buffer) }
            return
        }
        emitter.insert(line)
    }

    /// The leaf part ends (a delimiter follows, or the message ends): what was held
    /// or is still in the decoder is written.
    mutating func finishLeaf(_ emitter: inout ChunkEmitter) throws(MessageRejection) {
        let current = leaf
        leaf = .pass
        switch current {
        case .pass, .dropped:
            break
        case .sniffing(var sniffer):
            sniffer.finish()
            try sniffed(sniffer, &emitter)
            // The part is over, whatever the verdict made of it.
            leaf = .pass
        case .transformed(var transform):
            var output: [UInt8] = []
            try transform.finish(into: &output)
            emitter.insert(output)
            rewrites += transform.rewrites
            if let walker = transform.walker {
                tnefRemoved += walker.tnefRemoved
                if let skipped = walker.skipped { note(skipped) }
            }
        }
    }

    /// Acts on the sniffer's verdict, once there is one: TNEF is refused or removed,
    /// anything else is written as it was held and passes from here on.
    private mutating func sniffed(_ sniffer: TNEFSniffer, _ emitter: inout ChunkEmitter) throws(MessageRejection) {
        switch sniffer.verdict {
        case nil: leaf = .sniffing(sniffer)
        case .other?: emitter.insert(sniffer.held)
        case .tnef?: try tnefFound(removable: sniffer.canRemove)
        }
    }

    /// A TNEF part: removed with `tnef = "remove"` when it is a part of a multipart
    /// (and none of it was written), the message refused otherwise.
    private mutating func tnefFound(removable: Bool) throws(MessageRejection) {
        guard configuration.tnef == .remove, removable else { throw .tnef }
        tnefRemoved += 1
        boundaries[boundaries.count - 1].partsRemoved += 1
        leaf = .dropped
    }
}
