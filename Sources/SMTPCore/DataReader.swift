import NIOCore

/// Reads the message text after DATA: finds the end `CRLF "." CRLF`, removes the
/// transparency dots (RFC 5321 §4.5.2) and enforces CRLF line ends.
///
/// The end of data is recognised only as `"." CRLF` at the start of a line that
/// itself followed a real CRLF; every other combination of CR, LF and "." is content
/// (normalised) or refused, per ``BareNewlinePolicy``. This is what closes SMTP
/// smuggling (`\n.\n`, `\r\n.\r`, ... followed by a second transaction).
/// Input may be split anywhere; output is the same for every split.
public struct DataReader: Sendable {
    public enum Result: Equatable, Sendable {
        /// All input consumed; the message goes on.
        case needMoreData
        /// The end of data was consumed; what follows in the buffer are commands.
        case end
        /// A bare CR or LF under the `reject` policy.
        case bareNewline
    }

    private enum Pending: Sendable {
        case none
        /// A CR inside a line, waiting for its LF.
        case carriageReturn
        /// A "." at the start of a line, not yet known to be stuffing or the end.
        case dot
        /// `"." CR` at the start of a clean line: the end, if LF follows.
        case dotCarriageReturn
    }

    public let policy: BareNewlinePolicy
    private var pending = Pending.none
    private var atLineStart = true
    /// The current line started after a real CRLF (or is the first line).
    private var lineStartIsClean = true

    public init(policy: BareNewlinePolicy) {
        self.policy = policy
    }

    /// Consumes bytes from `input` (up to and including the end of data, if present)
    /// and appends the message text to `output`.
    public mutating func read(_ input: inout ByteBuffer, into output: inout ByteBuffer) -> Result {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n"), dot = UInt8(ascii: ".")
        var consumed = 0
        defer { input.moveReaderIndex(forwardBy: consumed) }
        return input.withUnsafeReadableBytes { bytes -> Result in
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                switch pending {
                case .carriageReturn:
                    pending = .none
                    if byte == lf {
                        output.writeStaticString("\r\n")
                        startLine(clean: true)
                        index += 1
                    } else {
                        guard policy == .normalize else { consumed = index; return .bareNewline }
                        output.writeStaticString("\r\n")
                        startLine(clean: false)
                    }
                case .dot:
                    if byte == cr && lineStartIsClean {
                        pending = .dotCarriageReturn
                        index += 1
                    } else {
                        // A stuffed dot: drop it and read the rest as an ordinary line.
                        pending = .none
                        atLineStart = false
                    }
                case .dotCarriageReturn:
                    pending = .none
                    if byte == lf {
                        consumed = index + 1
                        self = DataReader(policy: policy)
                        return .end
                    }
                    guard policy == .normalize else { consumed = index; return .bareNewline }
                    output.writeStaticString("\r\n")
                    startLine(clean: false)
                case .none:
                    if atLineStart {
                        atLineStart = false
                        if byte == dot {
                            pending = .dot
                            index += 1
                            continue
                        }
                    }
                    if byte == cr {
                        pending = .carriageReturn
                        index += 1
                    } else if byte == lf {
                        guard policy == .normalize else { consumed = index; return .bareNewline }
                        output.writeStaticString("\r\n")
                        startLine(clean: false)
                        index += 1
                    } else {
                        var runEnd = index + 1
                        while runEnd < bytes.count && bytes[runEnd] != cr && bytes[runEnd] != lf { runEnd += 1 }
                        output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[index..<runEnd]))
                        index = runEnd
                    }
                }
            }
            consumed = bytes.count
            return .needMoreData
        }
    }

    private mutating func startLine(clean: Bool) {
        atLineStart = true
        lineStartIsClean = clean
    }
}
