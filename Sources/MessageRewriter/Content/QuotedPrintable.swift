/// Streaming quoted-printable (RFC 2045 §6.7) for the parts Veil decodes, changes
/// and encodes again (see Base64.swift for why it is written here).
struct QuotedPrintableDecoder: ContentCoder {
    /// What an `=` started and the input has not finished yet.
    private var escape: [UInt8] = []

    /// Decodes `input`, which may end in the middle of an `=XX` or `=` CRLF. Line
    /// ends pass as they are (hard line breaks); `=` before a line end is a soft
    /// line break and goes; an `=` not followed by two hex digits or a line end is
    /// kept as it is (RFC 2045 §6.7 note 2, as mail programs read it).
    mutating func code(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        for byte in input {
            guard !escape.isEmpty else {
                if byte == UInt8(ascii: "=") { escape = [byte] } else { output.append(byte) }
                continue
            }
            escape.append(byte)
            switch escape.count {
            case 2:
                if byte == 10 { escape = [] }                        // "=" LF
                else if byte != 13 && Self.hexValue(byte) == nil { flushEscape(into: &output) }
            default:
                if escape[1] == 13 {
                    if byte == 10 { escape = [] } else { flushEscape(into: &output) }   // "=" CRLF
                } else if let high = Self.hexValue(escape[1]), let low = Self.hexValue(byte) {
                    output.append(high << 4 | low)
                    escape = []
                } else {
                    flushEscape(into: &output)
                }
            }
        }
    }

    mutating func finish(into output: inout [UInt8]) {
        output += escape
        escape = []
    }

    /// An `=` sequence that is no escape: its `=` is kept, and what followed is read
    /// again as ordinary input.
    private mutating func flushEscape(into output: inout [UInt8]) {
        let rest = escape.dropFirst()
        output.append(UInt8(ascii: "="))
        escape = []
        Array(rest).withUnsafeBytes { code($0, into: &output) }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

/// Streaming quoted-printable encoding (RFC 2045 §6.7): printable ASCII but `=` as it
/// is, everything else `=XX`; a line end (LF, or CRLF) is a hard line break written
/// as CRLF; a space or tab before a line break is encoded; lines longer than 76
/// characters get soft line breaks.
struct QuotedPrintableEncoder: ContentCoder {
    static let lineLength = 76

    private var column = 0
    /// A space or tab not written yet: it is encoded if a line break follows.
    private var pendingSpace: UInt8?
    /// A CR not written yet: with an LF it is a line break, alone it is encoded.
    private var pendingCarriageReturn = false

    mutating func code(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        for byte in input {
            if pendingCarriageReturn {
                pendingCarriageReturn = false
                if byte == 10 {
                    lineBreak(into: &output)
                    continue
                }
                flushSpace(into: &output)
                write(escaped: 13, into: &output)
            }
            switch byte {
            case 13:
                pendingCarriageReturn = true
            case 10:
                lineBreak(into: &output)
            case 32, 9:
                flushSpace(into: &output)
                pendingSpace = byte
            default:
                flushSpace(into: &output)
                if (33...126).contains(byte) && byte != UInt8(ascii: "=") {
                    write(literal: byte, into: &output)
                } else {
                    write(escaped: byte, into: &output)
                }
            }
        }
    }

    /// Ends the content. A last line without a line end gets a soft line break, so
    /// that whatever follows (a delimiter line) starts on a line of its own and the
    /// decoded content stays the same.
    mutating func finish(into output: inout [UInt8]) {
        if pendingCarriageReturn {
            pendingCarriageReturn = false
            flushSpace(into: &output)
            write(escaped: 13, into: &output)
        }
        if let space = pendingSpace {
            pendingSpace = nil
            write(escaped: space, into: &output)
        }
        if column > 0 { output += [UInt8(ascii: "="), 13, 10] }
        column = 0
    }

    private mutating func lineBreak(into output: inout [UInt8]) {
        if let space = pendingSpace {
            pendingSpace = nil
            write(escaped: space, into: &output)
        }
        output += [13, 10]
        column = 0
    }

    private mutating func flushSpace(into output: inout [UInt8]) {
        if let space = pendingSpace {
            pendingSpace = nil
            write(literal: space, into: &output)
        }
    }

    private mutating func write(literal byte: UInt8, into output: inout [UInt8]) {
        makeRoom(1, in: &output)
        output.append(byte)
    }

    private mutating func write(escaped byte: UInt8, into output: inout [UInt8]) {
        makeRoom(3, in: &output)
        output.append(UInt8(ascii: "="))
        output.append(Self.hex[Int(byte >> 4)])
        output.append(Self.hex[Int(byte & 15)])
    }

    /// Before an encoded character of `width` bytes: a soft line break if it would
    /// not fit before the 76th column (which the soft break's `=` may take).
    private mutating func makeRoom(_ width: Int, in output: inout [UInt8]) {
        if column + width > Self.lineLength - 1 {
            output += [UInt8(ascii: "="), 13, 10]
            column = 0
        }
        column += width
    }

    private static let hex = Array("0123456789ABCDEF".utf8)
}
