/// Replaces the PRODID property of an iCalendar object (RFC 5545 §3.7.3) by Veil's
/// own. Outlook writes `PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN`
/// and Exchange `PRODID:Microsoft Exchange Server 2010`: the sender's software and
/// version. Every other line passes as it is (Outlook's X-MICROSOFT-* properties
/// are what makes an invitation work).
///
/// Works on the decoded calendar text, chunk by chunk, holding at most the first six
/// bytes of a line:
///
///     contentline = name *(";" param) ":" value CRLF    ; RFC 5545 §3.1
///     folding     = CRLF (SPACE / HTAB)                 ; a continuation line
struct CalendarProductID: ContentCoder {
    static let replacement = Array("PRODID:-//Veil//Veil//EN".utf8)
    private static let name = Array("prodid".utf8)

    private enum State {
        /// At the start of a line, holding the bytes that match "PRODID" so far.
        case lineStart
        /// In a line that passes.
        case passing
        /// In the PRODID line (its line end is written after the replacement) or
        /// in one of its continuation lines (nothing of it is written).
        case dropping(continuation: Bool)
        /// At the start of the line after the PRODID line or a continuation line.
        case afterProductID
    }

    private var state = State.lineStart
    private var held: [UInt8] = []
    private var lastDropped: UInt8 = 0
    /// How many properties were replaced.
    private(set) var replaced = 0

    mutating func code(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        for byte in input { step(byte, into: &output) }
    }

    /// The end of the calendar: a line start held back passes.
    mutating func finish(into output: inout [UInt8]) {
        output += held
        held = []
        state = .lineStart
    }

    private mutating func step(_ byte: UInt8, into output: inout [UInt8]) {
        switch state {
        case .passing:
            output.append(byte)
            if byte == 10 { state = .lineStart }
        case .lineStart:
            if held.count == Self.name.count && (byte == UInt8(ascii: ":") || byte == UInt8(ascii: ";")) {
                output += Self.replacement
                replaced += 1
                held = []
                lastDropped = 0
                state = .dropping(continuation: false)
            } else if held.count < Self.name.count && byte.asciiLowercased == Self.name[held.count] {
                held.append(byte)
            } else {
                output += held
                held = []
                state = .passing
                step(byte, into: &output)
            }
        case .dropping(let continuation):
            if byte == 10 {
                if !continuation { output += lastDropped == 13 ? [13, 10] : [10] }
                state = .afterProductID
            }
            lastDropped = byte
        case .afterProductID:
            if byte == 32 || byte == 9 {
                state = .dropping(continuation: true)
            } else {
                state = .lineStart
                step(byte, into: &output)
            }
        }
    }
}
