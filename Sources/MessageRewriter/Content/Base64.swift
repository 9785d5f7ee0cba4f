/// Streaming base64 (RFC 2045 §6.8) for the parts Veil decodes, changes and encodes
/// again: calendar parts and encoded attached messages. Written here rather than
/// taken from a library because it must work chunk by chunk with a few bytes of
/// state (no whole part in memory), on the module's NIOCore-only footing.
struct Base64Decoder: ContentCoder {
    private var quantum: UInt32 = 0
    private var count = 0

    /// Decodes `input`, which may end in the middle of a quantum. Characters outside
    /// the alphabet (line ends, spaces) are ignored, as RFC 2045 §6.8 says; `=` ends
    /// the quantum it stands in.
    mutating func code(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        for byte in input {
            let value = Self.values[Int(byte)]
            if value < 64 {
                quantum = quantum << 6 | UInt32(value)
                count += 1
                if count == 4 {
                    output.append(UInt8(truncatingIfNeeded: quantum >> 16))
                    output.append(UInt8(truncatingIfNeeded: quantum >> 8))
                    output.append(UInt8(truncatingIfNeeded: quantum))
                    quantum = 0
                    count = 0
                }
            } else if byte == UInt8(ascii: "=") {
                flush(into: &output)
            }
        }
    }

    /// The end of the content: a quantum cut short gives the bytes it holds.
    mutating func finish(into output: inout [UInt8]) {
        flush(into: &output)
    }

    private mutating func flush(into output: inout [UInt8]) {
        if count >= 2 {
            let bits = quantum << (6 * UInt32(4 - count))
            output.append(UInt8(truncatingIfNeeded: bits >> 16))
            if count == 3 { output.append(UInt8(truncatingIfNeeded: bits >> 8)) }
        }
        quantum = 0
        count = 0
    }

    /// The value of each byte in the base64 alphabet, 255 for the others.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 255, count: 256)
        for (value, byte) in Base64Encoder.alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()
}

/// Streaming base64 encoding in lines of 76 characters ending in CRLF (RFC 2045 §6.8).
struct Base64Encoder: ContentCoder {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let lineLength = 76

    /// Up to two bytes waiting for the third of their group, high bits first.
    private var pending: UInt32 = 0
    private var pendingCount = 0
    private var column = 0

    mutating func code(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        for byte in input {
            pending |= UInt32(byte) << (16 - 8 * UInt32(pendingCount))
            pendingCount += 1
            if pendingCount == 3 { writeGroup(into: &output) }
        }
    }

    /// Pads the last group and ends the last line, so that whatever follows (a
    /// delimiter line) starts on a line of its own.
    mutating func finish(into output: inout [UInt8]) {
        if pendingCount > 0 { writeGroup(into: &output) }
        if column > 0 { output += [13, 10] }
        column = 0
    }

    /// Four characters for the pending group (`=` for the bytes it lacks).
    private mutating func writeGroup(into output: inout [UInt8]) {
        for index in 0..<4 {
            output.append(index <= pendingCount ? Self.alphabet[Int((pending >> (18 - 6 * UInt32(index))) & 63)] : UInt8(ascii: "="))
        }
        pending = 0
        pendingCount = 0
        column += 4
        if column == Self.lineLength {
            output += [13, 10]
            column = 0
        }
    }
}
