/// One header field as it stood in the message: its first line and continuation
/// lines, with their line ends (RFC 5322 §2.2, §2.2.3 folding).
struct HeaderField {
    var bytes: ArraySlice<UInt8>
    /// The field name, lower-cased, with obsolete spaces before the colon removed
    /// (RFC 5322 §4.5.4 `obs-optional = field-name *WSP ":"`).
    var lowercasedName: [UInt8]

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
    /// A whitespace-only line is a continuation, not the end of the block.
    static func split(_ block: [UInt8]) throws(MessageRejection) -> Block {
        var fields: [HeaderField] = []
        var separator: ArraySlice<UInt8> = []
        var lineStart = 0
        while lineStart < block.count {
            let lineEnd = (block[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? block.count - 1) + 1
            let line = block[lineStart..<lineEnd]
            lineStart = lineEnd
            let first = line.first!
            if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                guard !fields.isEmpty else { throw .malformedHeader }
                let field = fields[fields.count - 1]
                fields[fields.count - 1].bytes = block[field.bytes.startIndex..<lineEnd]
                continue
            }
            if line.elementsEqual("\r\n".utf8) || line.elementsEqual("\n".utf8) {
                separator = line
                break
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .malformedHeader }
            var name = line[line.startIndex..<colon]
            while let last = name.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { name = name.dropLast() }
            guard !name.isEmpty, name.allSatisfy({ (33...126).contains($0) }) else { throw .malformedHeader }
            fields.append(HeaderField(bytes: line, lowercasedName: name.map { $0 | (($0 >= 65 && $0 <= 90) ? 0x20 : 0) }))
        }
        return Block(fields: fields, separator: separator, totalSize: block.count)
    }
}
