import NIOCore

/// Cuts command lines out of the inbound byte stream.
///
/// RFC 5321 §2.3.8: lines end with CRLF; §4.5.3.1.4: a command line is at most
/// 512 octets including the CRLF (AUTH lines may be longer, RFC 4954 §4). A bare CR
/// or LF is refused or treated as a line end, per ``BareNewlinePolicy``.
public struct CommandLineFramer: Sendable {
    public enum Result: Equatable {
        /// A whole line, without its line end.
        case line(ByteBuffer)
        /// No complete line yet; nothing was consumed.
        case needMoreData
        /// The line is longer than allowed; it was consumed up to its end.
        case tooLong
        /// A bare CR or LF under the `reject` policy; the caller answers and closes.
        case bareNewline
    }

    public var policy: BareNewlinePolicy
    /// Set after an over-long line until its line end has been skipped.
    private var discarding = false

    public init(policy: BareNewlinePolicy) {
        self.policy = policy
    }

    /// Takes the next line from `buffer`, if there is one. `maximumLength` counts the
    /// line without its CRLF.
    public mutating func nextLine(from buffer: inout ByteBuffer, maximumLength: Int) -> Result {
        let view = buffer.readableBytesView
        guard let end = view.firstIndex(where: { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) else {
            if view.count > maximumLength + 1 {
                // Too long already: drop what we have and skip to the line end.
                buffer.moveReaderIndex(forwardBy: view.count)
                if !discarding {
                    discarding = true
                    return .tooLong
                }
            }
            return .needMoreData
        }
        let lineLength = end - view.startIndex
        if lineLength > maximumLength + 1 && !discarding {
            // What arrives in pieces is dropped before its line end shows up (above):
            // the same here, so that the result never depends on how bytes arrive.
            buffer.moveReaderIndex(forwardBy: lineLength)
            discarding = true
            return .tooLong
        }
        let terminatorLength: Int
        if view[end] == UInt8(ascii: "\r") {
            guard end + 1 < view.endIndex else { return .needMoreData }
            if view[end + 1] == UInt8(ascii: "\n") {
                terminatorLength = 2
            } else {
                guard policy == .normalize else { return .bareNewline }
                terminatorLength = 1
            }
        } else {
            guard policy == .normalize else { return .bareNewline }
            terminatorLength = 1
        }
        let line = buffer.readSlice(length: lineLength)!
        buffer.moveReaderIndex(forwardBy: terminatorLength)
        if discarding {
            // The end of an over-long line already answered: go on with the next.
            discarding = false
            return nextLine(from: &buffer, maximumLength: maximumLength)
        }
        return lineLength > maximumLength ? .tooLong : .line(line)
    }
}
