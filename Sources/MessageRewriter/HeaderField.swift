#if canImport(Glibc)
import Glibc
#endif

/// One header field as it stood in the message: its first line and continuation
/// lines, with their line ends (RFC 5322 §2.2, §2.2.3 folding).
struct HeaderField {
    var bytes: ArraySlice<UInt8>
    /// The field name, lower-cased, with obsolete spaces before the colon removed
    /// (RFC 5322 §4.5.4 `obs-optional = field-name *WSP ":"`). A slice of one array
    /// holding all the names of the block.
    var lowercasedName: ArraySlice<UInt8>

    /// The field with the obsolete whitespace between its name and the colon
    /// (RFC 5322 §4.5.4) taken out: what leaves Veil uses the current syntax, which
    /// every reader and DKIM verifier parses.
    func withoutSpaceBeforeColon() -> HeaderField {
        let nameEnd = bytes.startIndex + lowercasedName.count
        guard nameEnd < bytes.endIndex, bytes[nameEnd] != UInt8(ascii: ":"),
              let colon = bytes[nameEnd...].firstIndex(of: UInt8(ascii: ":")) else { return self }
        return HeaderField(bytes: ArraySlice(bytes[..<nameEnd] + bytes[colon...]), lowercasedName: lowercasedName)
    }

    struct Block {
        var fields: [HeaderField]
        /// The empty line that ended the block (empty when the message has no body).
        var separator: ArraySlice<UInt8>
        var totalSize: Int
    }

    /// Splits a header block into fields.
    ///
    ///     field      = field-name ":" unstructured CRLF
    ///     field-name = 1*ftext        ; printable US-ASCII except ":"
    ///     folding    = CRLF WSP ...   ; a line starting with SP or HTAB continues the field
    ///
    /// A whitespace-only line is a continuation, not the end of the block. A NUL byte
    /// anywhere, a line without a colon, or a continuation with nothing to continue
    /// refuses the message.
    static func split(_ block: [UInt8]) throws(MessageRejection) -> Block {
        let lineEnds = block.withUnsafeBufferPointer { buffer -> [Int]? in
            guard let base = buffer.baseAddress, memchr(base, 0, buffer.count) == nil else { return buffer.isEmpty ? [] : nil }
            var ends: [Int] = []
            ends.reserveCapacity(128)
            var offset = 0
            while offset < buffer.count, let lf = memchr(base + offset, 0x0A, buffer.count - offset) {
                offset = UnsafePointer<UInt8>(lf.assumingMemoryBound(to: UInt8.self)) - base + 1
                ends.append(offset)
            }
            if offset < buffer.count { ends.append(buffer.count) }
            return ends
        }
        guard let lineEnds else { throw .nulInHeader }

        var fields: [HeaderField] = []
        fields.reserveCapacity(lineEnds.count)
        var names: [UInt8] = []
        names.reserveCapacity(lineEnds.count * 24)
        var nameRanges: [Range<Int>] = []
        nameRanges.reserveCapacity(lineEnds.count)
        var separator: ArraySlice<UInt8> = []
        var lineStart = 0
        for lineEnd in lineEnds {
            let line = block[lineStart..<lineEnd]
            lineStart = lineEnd
            let first = line.first!
            if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                guard !fields.isEmpty else { throw .malformedHeader }
                fields[fields.count - 1].bytes = block[fields[fields.count - 1].bytes.startIndex..<lineEnd]
                continue
            }
            if first == UInt8(ascii: "\n") || (first == UInt8(ascii: "\r") && line.count == 2 && line.last == UInt8(ascii: "\n")) {
                separator = line
                break
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .malformedHeader }
            var nameEnd = colon
            while nameEnd > line.startIndex && (block[nameEnd - 1] == UInt8(ascii: " ") || block[nameEnd - 1] == UInt8(ascii: "\t")) {
                nameEnd -= 1
            }
            guard nameEnd > line.startIndex else { throw .malformedHeader }
            let nameStart = names.count
            for byte in block[line.startIndex..<nameEnd] {
                guard byte >= 33 && byte <= 126 else { throw .malformedHeader }
                names.append(byte.asciiLowercased)
            }
            nameRanges.append(nameStart..<names.count)
            fields.append(HeaderField(bytes: line, lowercasedName: []))
        }
        for index in fields.indices {
            fields[index].lowercasedName = names[nameRanges[index]]
        }
        return Block(fields: fields, separator: separator, totalSize: block.count)
    }
}
