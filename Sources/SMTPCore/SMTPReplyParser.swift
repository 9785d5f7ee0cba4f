import NIOCore

/// Reads server replies (RFC 5321 §4.2): `Reply-code "-" text CRLF` lines, then
/// `Reply-code SP text CRLF`. Used by the outbound client.
public struct SMTPReplyParser: Sendable {
    public enum Result: Equatable, Sendable {
        case reply(SMTPReply)
        case needMoreData
        /// Not an SMTP reply (bad code, mixed codes, overlong): the connection is dropped.
        case invalid
    }

    /// A reply line is at most 512 octets (RFC 5321 §4.5.3.1.5); be lenient up to 4 KiB.
    static let maximumLineLength = 4096
    /// More lines than any real EHLO reply has.
    static let maximumLines = 100

    private var code: Int?
    private var lines: [String] = []

    public init() {}

    public mutating func next(from buffer: inout ByteBuffer) -> Result {
        while true {
            let view = buffer.readableBytesView
            guard let lf = view.firstIndex(of: UInt8(ascii: "\n")) else {
                return view.count > Self.maximumLineLength ? .invalid : .needMoreData
            }
            var line = view[view.startIndex..<lf]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            buffer.moveReaderIndex(to: lf + 1)
            guard line.count >= 3, line.count <= Self.maximumLineLength,
                  line.prefix(3).allSatisfy({ (48...57).contains($0) }),
                  let lineCode = Int(String(decoding: line.prefix(3), as: UTF8.self)), (200...599).contains(lineCode),
                  code == nil || code == lineCode
            else { return .invalid }
            let separator = line.count > 3 ? line[line.startIndex + 3] : UInt8(ascii: " ")
            guard separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") else { return .invalid }
            code = lineCode
            lines.append(String(decoding: line.dropFirst(4), as: UTF8.self))
            guard lines.count <= Self.maximumLines else { return .invalid }
            if separator == UInt8(ascii: " ") {
                let reply = Self.reply(code: lineCode, lines: lines)
                code = nil
                lines = []
                return .reply(reply)
            }
        }
    }

    /// Splits an enhanced status code (RFC 3463) off the first line when present.
    static func reply(code: Int, lines: [String]) -> SMTPReply {
        guard let first = lines.first, let space = first.firstIndex(of: " ") ?? (first.isEmpty ? nil : first.endIndex) else {
            return SMTPReply(code, nil, lines)
        }
        let candidate = first[..<space]
        let parts = candidate.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }),
              candidate.first.map(String.init) == String(code / 100) else {
            return SMTPReply(code, nil, lines)
        }
        var rest = lines
        rest[0] = String(first[space...].drop(while: { $0 == " " }))
        return SMTPReply(code, String(candidate), rest)
    }
}
