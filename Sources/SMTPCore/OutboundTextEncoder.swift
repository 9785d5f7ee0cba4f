import NIOCore

/// Prepares a stored message for the wire. Every line ends in CRLF: a stray bare CR
/// or LF is turned into CRLF, never sent raw. For DATA (RFC 5321 §4.5.2) every line
/// starting with "." gets another "." and the text ends with `CRLF "." CRLF`; BDAT
/// chunks (RFC 3030 §2) are length-framed, so dots pass as they are. Input may be
/// split anywhere.
public struct OutboundTextEncoder: Sendable {
    public enum Framing: Sendable {
        /// Dot-stuffed, ended by the final dot.
        case data
        /// Plain text for BDAT chunks.
        case bdat
    }

    public let framing: Framing
    private var atLineStart = true
    private var pendingCarriageReturn = false

    public init(framing: Framing) {
        self.framing = framing
    }

    public mutating func encode(_ input: ByteBuffer, into output: inout ByteBuffer) {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n"), dot = UInt8(ascii: ".")
        let stuffDots = framing == .data
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
                if stuffDots && atLineStart && byte == dot { output.writeInteger(dot) }
                atLineStart = false
                var runEnd = index + 1
                while runEnd < bytes.count && bytes[runEnd] != cr && bytes[runEnd] != lf { runEnd += 1 }
                output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[index..<runEnd]))
                index = runEnd
            }
        }
    }

    /// Ends the text: a last line without a line end gets one, then (for DATA) the
    /// final dot.
    public mutating func finish(into output: inout ByteBuffer) {
        if pendingCarriageReturn || !atLineStart {
            output.writeStaticString("\r\n")
        }
        if framing == .data { output.writeStaticString(".\r\n") }
        self = OutboundTextEncoder(framing: framing)
    }
}
