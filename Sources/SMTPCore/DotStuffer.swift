import NIOCore

/// Prepares a stored message for DATA (RFC 5321 §4.5.2): every line starting with
/// "." gets another ".", every line ends in CRLF (a stray bare CR or LF is turned
/// into CRLF, never sent raw), and the text ends with `CRLF "." CRLF`. Input may be
/// split anywhere.
public struct DotStuffer: Sendable {
    private var atLineStart = true
    private var pendingCarriageReturn = false

    public init() {}

    public mutating func encode(_ input: ByteBuffer, into output: inout ByteBuffer) {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n"), dot = UInt8(ascii: ".")
        input.withUnsafeReadableBytes { bytes in
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if pendingCarriageReturn {
                    pendingCarriageReturn = false
                    output.writeStaticString("\r\n")
                    atLineStart = true
                    if byte == lf {
                        index += 1
                        continue
                    }
                }
                if byte == cr {
                    pendingCarriageReturn = true
                    index += 1
                    continue
                }
                if byte == lf {
                    output.writeStaticString("\r\n")
                    atLineStart = true
                    index += 1
                    continue
                }
                if atLineStart && byte == dot { output.writeInteger(dot) }
                atLineStart = false
                var runEnd = index + 1
                while runEnd < bytes.count && bytes[runEnd] != cr && bytes[runEnd] != lf { runEnd += 1 }
                output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[index..<runEnd]))
                index = runEnd
            }
        }
    }

    /// Ends the text: a last line without a line end gets one, then the final dot.
    public mutating func finish(into output: inout ByteBuffer) {
        if pendingCarriageReturn || !atLineStart {
            output.writeStaticString("\r\n")
        }
        output.writeStaticString(".\r\n")
        self = DotStuffer()
    }
}
