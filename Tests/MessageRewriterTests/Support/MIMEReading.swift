import Foundation
import Testing

/// Reading what the rewriter wrote, written here independently of its sources:
/// entities split at the empty line, multiparts at delimiter lines, content decoded
/// the RFC 2045 way (CRLF kept), and boundaries mapped back.
enum MIMEReading {
    /// (header block with its empty line, content); CRLF or LF-only line ends.
    static func entity(_ data: some Collection<UInt8>) -> (header: [UInt8], content: [UInt8]) {
        let bytes = Array(data)
        var offset = 0
        for line in bytes.lines {
            offset += line.count
            if line.elementsEqual([13, 10]) || line.elementsEqual([10]) {
                return (Array(bytes[..<offset]), Array(bytes[offset...]))
            }
        }
        Issue.record("no empty line after the header block: \(bytes.prefix(300).text)")
        return (bytes, [])
    }

    /// The value of the first field `name` of a header block, unfolded and trimmed.
    static func field(_ name: String, in header: [UInt8]) -> String? {
        let unfolded = header.text.replacingOccurrences(of: "\r?\n(?=[ \t])", with: "", options: .regularExpression)
        for line in unfolded.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == name.lowercased() {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    /// The first field `name` of a header block as it is, folding and line ends included.
    static func rawField(_ name: String, in header: [UInt8]) -> [UInt8] {
        var field: [UInt8] = []
        for line in header.lines {
            if field.isEmpty {
                let text = line.text
                if let colon = text.firstIndex(of: ":"),
                   text[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == name.lowercased() {
                    field = Array(line)
                }
            } else if line.first == 32 || line.first == 9 {
                field += line
            } else {
                break
            }
        }
        return field
    }

    /// The names of a header block's fields, lower-cased, in order.
    static func fieldNames(_ header: [UInt8]) -> [String] {
        header.text.split(whereSeparator: \.isNewline)
            .filter { !$0.hasPrefix(" ") && !$0.hasPrefix("\t") && $0.contains(":") }
            .map { $0[..<$0.firstIndex(of: ":")!].trimmingCharacters(in: .whitespaces).lowercased() }
    }

    static func transferEncoding(_ header: [UInt8]) -> String {
        (field("content-transfer-encoding", in: header) ?? "7bit").lowercased()
    }

    /// The parts of a multipart body: each part's lines after its delimiter line, up
    /// to the next one (the line end before a delimiter belongs to the delimiter).
    static func parts(_ body: [UInt8], boundary: String) -> [[UInt8]] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [[UInt8]] = []
        var current: [UInt8]?
        for line in body.lines {
            var rest = line.starts(with: delimiter) ? line.dropFirst(delimiter.count) : nil
            let close = rest?.starts(with: [45, 45]) ?? false
            if close { rest = rest?.dropFirst(2) }
            if let tail = rest, tail.allSatisfy({ [32, 9, 13, 10].contains($0) }) {
                if let part = current { parts.append(part) }
                current = close ? nil : []
                if close { break }
            } else {
                current?.append(contentsOf: line)
            }
        }
        if let part = current { parts.append(part) }
        return parts.map { part in
            guard part.last == 10 else { return part }
            let lineEnd = part.count >= 2 && part[part.count - 2] == 13 ? 2 : 1
            return Array(part.dropLast(lineEnd))
        }
    }

    /// A part's content decoded as its header block says (base64, quoted-printable,
    /// or as it is).
    static func decoded(_ part: [UInt8]) -> [UInt8] {
        let (header, content) = entity(part)
        switch transferEncoding(header) {
        case "base64":
            guard let data = Data(base64Encoded: content.text, options: .ignoreUnknownCharacters) else {
                Issue.record("not base64: \(content.prefix(200).text)")
                return []
            }
            return Array(data)
        case "quoted-printable":
            return quotedPrintable(content)
        default:
            return content
        }
    }

    /// RFC 2045 6.7, strict: a line ending in `=` is joined to the next, other line
    /// breaks are CRLF; trailing white space of a line is transport padding.
    static func quotedPrintable(_ encoded: [UInt8]) -> [UInt8] {
        let lines = encoded.split(separator: 10, omittingEmptySubsequences: false)
            .map { $0.last == 13 ? $0.dropLast() : $0 }
        var out: [UInt8] = []
        for (index, raw) in lines.enumerated() {
            var line = Array(raw)
            while let last = line.last, last == 32 || last == 9 { line.removeLast() }
            let soft = line.last == 61
            if soft { line.removeLast() }
            var i = 0
            while i < line.count {
                if line[i] == 61, i + 2 < line.count, let high = hexValue(line[i + 1]), let low = hexValue(line[i + 2]) {
                    out.append(high << 4 | low)
                    i += 3
                } else {
                    out.append(line[i])
                    i += 1
                }
            }
            if !soft && index < lines.count - 1 { out += [13, 10] }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: byte - 48
        case 65...70: byte - 55
        case 97...102: byte - 87
        default: nil
        }
    }

    /// Quoted-printable as a mail program accepts it: CRLF lines of at most 76
    /// characters, printable ASCII, `=` only as =XX (upper case) or a soft line
    /// break, no white space at a line's end.
    static func isQuotedPrintable(_ encoded: [UInt8]) -> Bool {
        encoded.split(separator: [13, 10], omittingEmptySubsequences: false).allSatisfy { line in
            guard line.count <= 76, line.last != 32, line.last != 9, !line.contains(10), !line.contains(13) else { return false }
            var i = line.startIndex
            while i < line.endIndex {
                let byte = line[i]
                if byte == 61 {
                    if i == line.endIndex - 1 { return true }          // a soft line break
                    guard i + 2 < line.endIndex, isUpperHex(line[i + 1]), isUpperHex(line[i + 2]) else { return false }
                    i += 3
                } else {
                    guard (33...126).contains(byte) || byte == 32 || byte == 9 else { return false }
                    i += 1
                }
            }
            return true
        }
    }

    private static func isUpperHex(_ byte: UInt8) -> Bool { (48...57).contains(byte) || (65...70).contains(byte) }

    /// base64 in CRLF lines of at most 76 characters.
    static func isBase64Lines(_ encoded: [UInt8]) -> Bool {
        var end = encoded.count
        while end > 0 && (encoded[end - 1] == 10 || encoded[end - 1] == 13) { end -= 1 }
        var length = 0, padding = 0, index = 0
        while index < end {
            let byte = encoded[index]
            if byte == 13 {
                guard index + 1 < end, encoded[index + 1] == 10 else { return false }
                length = 0
                padding = 0
                index += 2
                continue
            }
            length += 1
            if byte == 61 {
                padding += 1
            } else if padding > 0 || !((65...90).contains(byte) || (97...122).contains(byte) || (48...57).contains(byte)
                                         || byte == 43 || byte == 47) {
                return false
            }
            guard length <= 76, padding <= 2 else { return false }
            index += 1
        }
        return true
    }

    /// Each line of `output` is the line of `original`, or becomes it once the new
    /// boundaries of `olds` are mapped back (delimiter lines, quoted parameters), or
    /// once the boundary parameter's value is blanked out on both (a token, a value
    /// with quoted pairs or trailing spaces): nothing lost, nothing else changed.
    static func sameButBoundaries(_ output: [UInt8], _ original: [UInt8], _ olds: [String],
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        let got = output.lines, was = original.lines
        #expect(got.count == was.count, "\(got.count) lines, expected \(was.count)", sourceLocation: sourceLocation)
        for (number, (line, old)) in zip(got, was).enumerated() where !line.elementsEqual(old) {
            var restored = Array(line)
            for boundary in olds {
                restored = restored.replacing("\"\(Keyed.boundary(boundary))\"", with: boundary)
                    .replacing(Keyed.boundary(boundary), with: boundary)
            }
            if restored == Array(old) { continue }
            let blank = { (text: String) in
                text.replacingOccurrences(of: #"(?i)(boundary[ \t]*=[ \t]*)("(?:[^"\\]|\\.)*"|[^\s;()"]+)"#,
                                          with: "$1B", options: .regularExpression)
            }
            #expect(line.text.contains("=_veil_") && blank(Array(line).text) == blank(Array(old).text),
                    "line \(number + 1): \(Array(line).text.debugDescription), was \(Array(old).text.debugDescription)",
                    sourceLocation: sourceLocation)
        }
    }
}
