import NIOCore

/// An SMTP reply: a three-digit code, an enhanced status code (RFC 3463, advertised
/// through ENHANCEDSTATUSCODES, RFC 2034) and one or more lines of text.
///
/// RFC 5321 §4.2: `Reply-line = *( Reply-code "-" [ textstring ] CRLF )
///                              Reply-code [ SP textstring ] CRLF`
public struct SMTPReply: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Int
    /// `class.subject.detail`, e.g. "2.1.0"; nil only for the greeting and EHLO,
    /// where RFC 2034 §3 does not use one.
    public var enhancedCode: String?
    public var lines: [String]

    public init(_ code: Int, _ enhancedCode: String?, _ lines: [String]) {
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines.isEmpty ? [""] : lines
    }

    public init(_ code: Int, _ enhancedCode: String?, _ text: String) {
        self.init(code, enhancedCode, [text])
    }

    public var isPositive: Bool { code < 400 }
    public var isTransientFailure: Bool { (400..<500).contains(code) }
    public var isPermanentFailure: Bool { code >= 500 }

    public var description: String {
        "\(code)" + (enhancedCode.map { " " + $0 } ?? "") + " " + lines.joined(separator: " / ")
    }

    /// Encodes the reply as it goes on the wire, every line ending in CRLF.
    public func write(into buffer: inout ByteBuffer) {
        for (index, line) in lines.enumerated() {
            let separator = index == lines.count - 1 ? " " : "-"
            buffer.writeString("\(code)\(separator)")
            if let enhancedCode {
                buffer.writeString(enhancedCode)
                buffer.writeString(" ")
            }
            buffer.writeString(line)
            buffer.writeString("\r\n")
        }
    }
}
