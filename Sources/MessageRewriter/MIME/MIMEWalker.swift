// Longer than 300 lines: one streaming state machine (boundary stack, part header block,
// delimiter lookahead); what a leaf part's content gets is apart, in
// MIMEWalker+LeafContent.swift.

#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Follows the MIME structure of a message body as it streams past (RFC 2045,
/// RFC 2046 §5.1) and rewrites what names the internal network inside it:
/// every boundary (in the Content-Type fields of the parts and on every delimiter
/// line), the header blocks of parts and of embedded messages (message/rfc822 and
/// message/global, RFC 2046 §5.2.1, RFC 6532 §3.5; text/rfc822-headers, RFC 6522
/// §4), and the content of some leaf parts (see MIMEWalker+LeafContent.swift):
/// TNEF is refused or removed, calendar PRODIDs replaced, attached messages sent
/// base64 or quoted-printable decoded, scrubbed and encoded again.
///
/// Bounded: it holds the stack of active boundaries, the header block of the part
/// being read (at most `maximumHeaderSize`), at most one line that may be a
/// delimiter (`maximumDelimiterLine`) and the first bytes of a leaf part
/// (``TNEFSniffer/lookahead``); an encoded attached message has a walker of its
/// own, one level deeper. Everything else passes as slices of the input, byte for
/// byte. The output is the same for every split of the input.
///
/// Malformed structure is followed the way MIME parsers follow it (a delimiter of
/// an enclosing multipart ends the inner one, a header line that is not one ends
/// the part's header block) and never loses bytes: what the walker cannot read
/// passes untouched.
struct MIMEWalker: Sendable {
    /// Parts nested deeper than this (the message itself is level 1) pass untouched.
    static let maximumDepth = 32
    /// RFC 2046 boundaries have at most 70 characters; a line starting with `--`
    /// that is longer than this is body text.
    static let maximumDelimiterLine = 1024

    /// Why some of the message passed without being read (for the log; the first
    /// reason met is kept).
    enum Skipped: Sendable, CustomStringConvertible {
        case depth
        case headerSize
        case malformedHeader
        case signed

        var description: String {
            switch self {
            case .depth: "parts nested deeper than \(MIMEWalker.maximumDepth) levels"
            case .headerSize: "a part header block over the header size limit"
            case .malformedHeader: "a part header block that is not one"
            case .signed: "signed or encrypted parts, left intact"
            }
        }
    }

    let configuration: ScrubConfiguration
    /// Boundary parameters, delimiter lines, header fields of parts and embedded
    /// messages, and calendar PRODIDs rewritten.
    var rewrites = 0
    private(set) var skipped: Skipped?
    /// TNEF parts removed (`tnef = "remove"`).
    var tnefRemoved = 0

    private enum Mode {
        /// Body text: a preamble, a part's content, an epilogue.
        case body
        /// The header block of a part, of an embedded message or of a
        /// text/rfc822-headers part, at nesting level `depth`.
        case header(HeaderBlock, depth: Int)
    }

    enum HeaderBlock {
        case part(inDigest: Bool)
        case message
        case headersOnly
    }

    /// The boundaries of the multipart entities we are in, innermost last.
    var boundaries: [Boundary] = []
    private var mode = Mode.body
    /// The header block read so far (header mode).
    private var header: [UInt8] = []
    /// A line not complete at the end of the last chunk: a header line, or in body
    /// text a line starting with `-` that may be a delimiter.
    private var heldLine: [UInt8] = []
    private var atLineStart = true
    /// The rewritten delimiter line that opened the part whose header block is
    /// being read: written with the header block, or dropped with the part.
    private var pendingDelimiter: [UInt8] = []
    /// What happens to the content of the leaf part being read.
    var leaf = LeafContent.pass

    init(configuration: ScrubConfiguration) {
        self.configuration = configuration
    }

    /// A walker for an attached message (or header block) that arrives encoded, at
    /// nesting level `depth`: it starts with the header block.
    init(configuration: ScrubConfiguration, embedded block: HeaderBlock, depth: Int) {
        self.configuration = configuration
        mode = .header(block, depth: depth)
    }

    /// Starts with the body of the message, whose header block said `entity`.
    mutating func start(_ entity: EntityHeader) throws(MessageRejection) {
        var emitter = ChunkEmitter(chunk: ByteBuffer())
        try enter(entity, depth: 1, inPart: false, written: ByteBuffer(), &emitter)
        var output: [ByteBuffer] = []
        emitter.finish(into: &output)
        precondition(output.isEmpty, "the message's own header block is written by the rewriter")
    }

    /// Appends the rewritten form of `chunk` to `output`.
    mutating func process(_ chunk: ByteBuffer, into output: inout [ByteBuffer]) throws(MessageRejection) {
        if boundaries.isEmpty, case .body = mode, case .pass = leaf, heldLine.isEmpty {
            output.append(chunk)
            return
        }
        var emitter = ChunkEmitter(chunk: chunk)
        try chunk.withUnsafeReadableBytes { bytes throws(MessageRejection) in
            var offset = 0
            while offset < bytes.count {
                switch mode {
                case .body: offset = try body(bytes, from: offset, &emitter)
                case .header(let block, let depth): offset = try readHeader(bytes, from: offset, block: block, depth: depth, &emitter)
                }
            }
        }
        emitter.finish(into: &output)
    }

    /// Ends the message: a held line (the last one, without a line end) is read
    /// like any other, an unfinished header block is written out, the last leaf
    /// part ends.
    mutating func finish(into output: inout [ByteBuffer]) throws(MessageRejection) {
        var emitter = ChunkEmitter(chunk: ByteBuffer())
        let line = heldLine
        heldLine = []
        if !line.isEmpty {
            switch mode {
            case .body: try bodyLine(line, &emitter)
            case .header(let block, let depth): try headerLine(line, block: block, depth: depth, &emitter)
            }
        }
        if case .header(let block, let depth) = mode {
            try endHeader(block: block, depth: depth, &emitter)
        }
        try finishLeaf(&emitter)
        try leave(levels: 0)
        emitter.finish(into: &output)
    }

    // MARK: Body text

    /// Scans body text from `start`: lines that start with `--` are compared with the
    /// active boundaries, the rest is content. Returns where it stopped (the end of
    /// the chunk, or the start of a part's header block).
    private mutating func body(_ bytes: UnsafeRawBufferPointer, from index: Int, _ emitter: inout ChunkEmitter) throws(MessageRejection) -> Int {
        if !heldLine.isEmpty {
            let lineEnd = Self.lineEnd(bytes, from: index)
            let stop = lineEnd ?? bytes.count
            guard heldLine.count + (stop - index) <= Self.maximumDelimiterLine else {
                // Too long for a delimiter: what was held is content, and so is the rest.
                let line = heldLine
                heldLine = []
                atLineStart = false
                emitter.passAll(upTo: index)
                try content(line, &emitter)
                return try scan(bytes, from: index, &emitter)
            }
            heldLine += UnsafeRawBufferPointer(rebasing: bytes[index..<stop])
            emitter.hold(index..<stop)
            guard lineEnd != nil else { return stop }
            let line = heldLine
            heldLine = []
            atLineStart = true
            try bodyLine(line, &emitter)
            return stop
        }
        return try scan(bytes, from: index, &emitter)
    }

    /// The body scan proper, with no held line.
    private mutating func scan(_ bytes: UnsafeRawBufferPointer, from start: Int, _ emitter: inout ChunkEmitter) throws(MessageRejection) -> Int {
        guard !boundaries.isEmpty else {
            try content(bytes, start..<bytes.count, &emitter)
            return bytes.count
        }
        var contentStart = start
        var index = start
        while index < bytes.count {
            if atLineStart && bytes[index] == UInt8(ascii: "-")
                && (index + 1 == bytes.count || bytes[index + 1] == UInt8(ascii: "-")) {
                if let lineEnd = Self.lineEnd(bytes, from: index) {
                    let line = UnsafeRawBufferPointer(rebasing: bytes[index..<lineEnd])
                    if let delimiter = Delimiter.match(line, in: boundaries) {
                        try content(bytes, contentStart..<index, &emitter)
                        emitter.hold(index..<lineEnd)
                        atLineStart = true
                        try delimiterLine(rewritten(line, delimiter), delimiter, &emitter)
                        if case .header = mode { return lineEnd }
                        contentStart = lineEnd
                        if boundaries.isEmpty { break }
                    }
                    index = lineEnd
                    continue
                }
                if bytes.count - index <= Self.maximumDelimiterLine {
                    try content(bytes, contentStart..<index, &emitter)
                    heldLine = Array(UnsafeRawBufferPointer(rebasing: bytes[index...]))
                    emitter.hold(index..<bytes.count)
                    return bytes.count
                }
            }
            // The next line that starts with "--".
            let rest = bytes.count - index
            if let lineStart = Self.nextLineStartingWithDashes(bytes, from: index) {
                index = lineStart
                atLineStart = true
                continue
            }
            // None in this chunk: note how it ends (a line start, or "\n-" that the
            // next chunk may continue as "--").
            if bytes[bytes.count - 1] == UInt8(ascii: "\n") {
                atLineStart = true
            } else if rest >= 2 && bytes[bytes.count - 2] == UInt8(ascii: "\n") && bytes[bytes.count - 1] == UInt8(ascii: "-") {
                try content(bytes, contentStart..<(bytes.count - 1), &emitter)
                heldLine = [UInt8(ascii: "-")]
                emitter.hold((bytes.count - 1)..<bytes.count)
                return bytes.count
            } else {
                atLineStart = false
            }
            break
        }
        try content(bytes, contentStart..<bytes.count, &emitter)
        return bytes.count
    }

    /// A complete line that was held back: a delimiter is rewritten, anything else
    /// is content.
    private mutating func bodyLine(_ line: [UInt8], _ emitter: inout ChunkEmitter) throws(MessageRejection) {
        if let delimiter = line.withUnsafeBytes({ Delimiter.match($0, in: boundaries) }) {
            try delimiterLine(line.withUnsafeBytes { rewritten($0, delimiter) }, delimiter, &emitter)
        } else {
            try content(line, &emitter)
        }
    }

    private mutating func rewritten(_ line: UnsafeRawBufferPointer, _ delimiter: Delimiter) -> [UInt8] {
        rewrites += 1
        let new = boundaries[delimiter.level].new
        var output: [UInt8] = [UInt8(ascii: "-"), UInt8(ascii: "-")]
        output.reserveCapacity(2 + new.count + line.count - delimiter.suffixStart)
        output += new
        output += UnsafeRawBufferPointer(rebasing: line[delimiter.suffixStart...])
        return output
    }

    /// A delimiter line (rewritten): the leaf part before it ends; the line is
    /// written at once, or with the header block of the part it opens, so that a
    /// part that is removed goes with its delimiter.
    private mutating func delimiterLine(_ line: [UInt8], _ delimiter: Delimiter, _ emitter: inout ChunkEmitter) throws(MessageRejection) {
        try finishLeaf(&emitter)
        try apply(delimiter)
        if case .header(.part, _) = mode {
            pendingDelimiter = line
        } else {
            emitter.insert(line)
        }
    }

    /// After a delimiter: the inner multiparts it interrupts are left; a closing
    /// delimiter ends its multipart (the epilogue follows), any other starts a part.
    private mutating func apply(_ delimiter: Delimiter) throws(MessageRejection) {
        try leave(levels: delimiter.isClosing ? delimiter.level : delimiter.level + 1)
        mode = .body
        guard !delimiter.isClosing else { return }
        let multipart = boundaries[delimiter.level]
        if multipart.parts == .leftAlone {
            return
        } else if multipart.depth + 1 > Self.maximumDepth {
            try unread(.depth)
        } else {
            boundaries[delimiter.level].partsRead += 1
            mode = .header(.part(inDigest: multipart.parts == .readAsMessages), depth: multipart.depth + 1)
        }
    }

    /// The multiparts from `level` on have ended; one left without parts because
    /// every part was removed refuses the message.
    private mutating func leave(levels level: Int) throws(MessageRejection) {
        guard level < boundaries.count else { return }
        if boundaries[level...].contains(where: \.isEmptied) { throw .tnef }
        boundaries.removeLast(boundaries.count - level)
    }

    // MARK: Header blocks

    /// Reads a header block line by line from `start`; returns where it stopped.
    private mutating func readHeader(_ bytes: UnsafeRawBufferPointer, from start: Int, block: HeaderBlock, depth: Int,
                                     _ emitter: inout ChunkEmitter) throws(MessageRejection) -> Int {
        let lineEnd = Self.lineEnd(bytes, from: start)
        let stop = lineEnd ?? bytes.count
        guard header.count + heldLine.count + (stop - start) <= configuration.maximumHeaderSize else {
            // Too large to hold: the complete lines pass as they were and the part is
            // body text, from the line being read (which may be a delimiter, and is
            // held as in body text, so that where the limit was met does not matter).
            try unread(.headerSize)
            emitter.passAll(upTo: start)
            emitter.insert(pendingDelimiter + header)
            pendingDelimiter = []
            header = []
            atLineStart = true
            mode = .body
            return start
        }
        heldLine += UnsafeRawBufferPointer(rebasing: bytes[start..<stop])
        emitter.hold(start..<stop)
        guard lineEnd != nil else { return stop }
        let line = heldLine
        heldLine = []
        try headerLine(line, block: block, depth: depth, &emitter)
        return stop
    }

    /// One complete line of a header block (RFC 5322 §2.2): a field line, a
    /// continuation, or the empty line that ends the block. A delimiter, or a line
    /// that is none of these, ends the block early (as MIME parsers read it).
    private mutating func headerLine(_ line: [UInt8], block: HeaderBlock, depth: Int, _ emitter: inout ChunkEmitter) throws(MessageRejection) {
        if let delimiter = line.withUnsafeBytes({ Delimiter.match($0, in: boundaries) }) {
            try endHeader(block: block, depth: depth, &emitter)
            try delimiterLine(line.withUnsafeBytes { rewritten($0, delimiter) }, delimiter, &emitter)
            return
        }
        if line == [13, 10] || line == [10] {
            header += line
            try endHeader(block: block, depth: depth, &emitter)
            return
        }
        if Self.isFieldLine(line) {
            header += line
            return
        }
        if case .message = block, header.isEmpty, line.starts(with: Self.mboxFrom) {
            // An mbox "From " line before an attached message's header block
            // (Python's email package reads it the same way): kept as it is.
            emitter.insert(line)
            return
        }
        // Not a header line: the block ended without its empty line, and this line
        // is the first of what follows it. Mail programs differ in how they read
        // such a line (some skip it and read more fields), so the allowlist refuses it.
        if configuration.rules.mode == .allowlist { throw .unreadableMIME }
        try endHeader(block: block, depth: depth, &emitter)
        switch mode {
        case .header(let next, let nextDepth): try headerLine(line, block: next, depth: nextDepth, &emitter)
        case .body: try bodyLine(line, &emitter)
        }
    }

    /// A field's first line (`name:`, or `name :` as RFC 5322 §4.5.4 still allows)
    /// or a continuation line (starts with WSP).
    private static func isFieldLine(_ line: [UInt8]) -> Bool {
        guard let first = line.first else { return false }
        if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { return true }
        var index = 0
        while index < line.count, line[index] >= 33, line[index] <= 126, line[index] != UInt8(ascii: ":") { index += 1 }
        guard index > 0 else { return false }
        while index < line.count, line[index] == UInt8(ascii: " ") || line[index] == UInt8(ascii: "\t") { index += 1 }
        return index < line.count && line[index] == UInt8(ascii: ":")
    }

    /// Writes the header block read so far, scrubbed (after the delimiter line of
    /// its part), and sets up what follows it.
    private mutating func endHeader(block: HeaderBlock, depth: Int, _ emitter: inout ChunkEmitter) throws(MessageRejection) {
        let bytes = header
        header = []
        mode = .body
        let delimiter = pendingDelimiter
        pendingDelimiter = []
        let fields: HeaderField.Block
        do {
            fields = try HeaderField.split(bytes)
        } catch {
            try unread(.malformedHeader)
            emitter.insert(delimiter + bytes)
            return
        }
        let scope: FieldScrubber.Scope = switch block {
        case .part: .part
        case .message, .headersOnly: .message(of: fields.fields, configuration: configuration)
        }
        var scrubber = FieldScrubber(configuration: configuration, scope: scope)
        var written = ByteBuffer()
        written.reserveCapacity(delimiter.count + bytes.count + 64)
        written.writeBytes(delimiter)
        for field in fields.fields { scrubber.write(field, into: &written) }
        written.writeBytes(fields.separator)
        rewrites += scrubber.changedFields + scrubber.replacedBoundaries
        var entity = scrubber.entity
        entity.endsWithEmptyLine = !fields.separator.isEmpty

        switch block {
        case .headersOnly:
            emitter.insert(written)
        case .part(let inDigest):
            // RFC 2046 §5.1.5: in a digest a part without Content-Type is a message
            // (one with a Content-Type that cannot be read is text/plain).
            if entity.contentType == nil && inDigest { entity.contentType = ContentTypeField.digestDefault }
            try enter(entity, depth: depth, inPart: true, written: written, &emitter)
        case .message:
            try enter(entity, depth: depth, inPart: false, written: written, &emitter)
        }
    }

    /// The body of an entity at `depth` whose header block said `entity` and was
    /// rewritten as `written` (with its delimiter line, for a part; not yet
    /// written, since a leaf part may be removed with it).
    private mutating func enter(_ entity: EntityHeader, depth: Int, inPart: Bool, written: ByteBuffer,
                                _ emitter: inout ChunkEmitter) throws(MessageRejection) {
        let contentType = entity.contentType
        if let contentType, contentType.isMultipart, let boundary = contentType.boundary {
            emitter.insert(written)
            let parts = contentType.parts
            if parts == .leftAlone { note(.signed) }
            boundaries.append(Boundary(old: boundary, key: configuration.hmacKey, depth: depth, parts: parts))
            atLineStart = true
        } else if let block = contentType?.embeddedBlock, entity.encoding == .identity, configuration.scrubEmbeddedMessages {
            emitter.insert(written)
            try enterEmbeddedMessage(block: block, depth: depth + 1)
        } else {
            try enterLeaf(entity, depth: depth, inPart: inPart, written: written, &emitter)
        }
    }

    /// An embedded header block as it stands (7bit, 8bit, binary), read as it passes.
    private mutating func enterEmbeddedMessage(block: HeaderBlock, depth: Int) throws(MessageRejection) {
        guard depth <= Self.maximumDepth else {
            try unread(.depth)
            return
        }
        mode = .header(block, depth: depth)
    }

    mutating func note(_ reason: Skipped) {
        if skipped == nil { skipped = reason }
    }

    /// Something the walker cannot read passes as it is; the allowlist refuses the
    /// message instead, since it cannot tell what would leave.
    mutating func unread(_ reason: Skipped) throws(MessageRejection) {
        if configuration.rules.mode == .allowlist { throw .unreadableMIME }
        note(reason)
    }

    // MARK: Bytes

    /// The start of the next line after `start` that begins with `--`, if the chunk
    /// holds its first two bytes.
    private static func nextLineStartingWithDashes(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var index = start
        while let lineStart = lineEnd(bytes, from: index) {
            if lineStart + 1 < bytes.count && bytes[lineStart] == UInt8(ascii: "-") && bytes[lineStart + 1] == UInt8(ascii: "-") {
                return lineStart
            }
            index = lineStart
        }
        return nil
    }

    /// The index just past the next LF at or after `start`, if any.
    private static func lineEnd(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < bytes.count, let found = memchr(bytes.baseAddress! + start, 0x0A, bytes.count - start) else { return nil }
        return UnsafeRawPointer(found) - bytes.baseAddress! + 1
    }

    private static let mboxFrom = Array("From ".utf8)
}
