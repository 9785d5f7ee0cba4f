import NIOCore

/// Why a message cannot be accepted as it is (RFC 5322 §2.2, §3.5).
public enum MessageRejection: Error, Equatable, Sendable {
    /// The header block is larger than the configured limit.
    case headerBlockTooLarge
    /// A NUL byte in the header block.
    case nulInHeader
}

/// Streams a message from the SMTP reader to the spool.
///
/// This version guards the header block (its size and NUL bytes) and passes every
/// byte through unchanged; header scrubbing builds on it. Input may be split
/// anywhere; the output is the same for every split.
public struct MessageRewriter: Sendable {
    public let maximumHeaderSize: Int
    private var headerBytes = 0
    private var inHeader = true
    /// The last bytes of the header block seen so far, to find the empty line that
    /// ends it across chunk boundaries: CRLF CRLF, or CRLF at the very start.
    private var tail: UInt32 = 0x0D0A_0000

    public init(maximumHeaderSize: Int) {
        self.maximumHeaderSize = maximumHeaderSize
    }

    /// Appends the rewritten form of `chunk` to `output`.
    public mutating func process(_ chunk: ByteBuffer, into output: inout ByteBuffer) throws(MessageRejection) {
        if inHeader {
            for byte in chunk.readableBytesView {
                guard byte != 0 else { throw .nulInHeader }
                headerBytes += 1
                tail = tail << 8 | UInt32(byte)
                if tail == 0x0D0A_0D0A {
                    inHeader = false
                    break
                }
                guard headerBytes <= maximumHeaderSize else { throw .headerBlockTooLarge }
            }
        }
        var chunk = chunk
        output.writeBuffer(&chunk)
    }
}
