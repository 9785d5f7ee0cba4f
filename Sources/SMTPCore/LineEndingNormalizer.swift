import NIOCore

/// Line ends of BDAT text (RFC 3030): the chunks are length-framed, so dots mean
/// nothing, but a CR or LF that is not part of CRLF is still refused or turned into
/// CRLF (``BareNewlinePolicy``), so that what Veil stores and sends on is CRLF-clean.
/// Input may be split anywhere.
public struct LineEndingNormalizer: Sendable {
    public let policy: BareNewlinePolicy
    private var pendingCarriageReturn = false

    public init(policy: BareNewlinePolicy) {
        self.policy = policy
    }

    /// Appends `input` with clean line ends to `output`; false on a bare CR or LF
    /// under the `reject` policy.
    public mutating func process(_ input: ByteBuffer, into output: inout ByteBuffer) -> Bool {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        return input.withUnsafeReadableBytes { bytes -> Bool in
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if pendingCarriageReturn {
                    pendingCarriageReturn = false
                    if byte == lf {
                        output.writeStaticString("\r\n")
                        index += 1
                        continue
                    }
                    guard policy == .normalize else { return false }
                    output.writeStaticString("\r\n")
                }
                if byte == cr {
                    pendingCarriageReturn = true
                    index += 1
                } else if byte == lf {
                    guard policy == .normalize else { return false }
                    output.writeStaticString("\r\n")
                    index += 1
                } else {
                    var runEnd = index + 1
                    while runEnd < bytes.count && bytes[runEnd] != cr && bytes[runEnd] != lf { runEnd += 1 }
                    output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[index..<runEnd]))
                    index = runEnd
                }
            }
            return true
        }
    }

    /// The end of the text: a CR left over at the very end is bare.
    public mutating func finish(into output: inout ByteBuffer) -> Bool {
        guard pendingCarriageReturn else { return true }
        pendingCarriageReturn = false
        guard policy == .normalize else { return false }
        output.writeStaticString("\r\n")
        return true
    }
}
