import Crypto

/// The "relaxed" body canonicalization (RFC 6376 §3.4.4), fed in pieces split
/// anywhere, straight into the body hash: whitespace at the end of lines is
/// dropped, runs of whitespace inside a line become one space, empty lines at the
/// end are ignored, and a last line without its end gets CRLF.
///
/// Lines end as ``OutboundTextEncoder`` ends them on the wire: CRLF, or a CR or LF
/// on its own (each sent as CRLF), so that the hash covers what the receiver gets.
public struct RelaxedBody: Sendable {
    private var hash = SHA256()
    /// Whitespace seen in the current line and not yet written (it is dropped if
    /// the line ends first).
    private var pendingSpace = false
    /// Empty lines not yet written (they are dropped if the body ends first).
    private var pendingEmptyLines = 0
    private var lineHasContent = false
    private var pendingCarriageReturn = false
    /// Canonical bytes collected before they go into the hash.
    private var chunk: [UInt8] = []

    public init() {
        chunk.reserveCapacity(Self.chunkSize + 8)
    }

    static let chunkSize = 16 * 1024

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if pendingCarriageReturn {
                pendingCarriageReturn = false
                endLine()
                if byte == 0x0A {
                    index += 1
                    continue
                }
            }
            switch byte {
            case 0x0D: pendingCarriageReturn = true
            case 0x0A: endLine()
            case 0x20, 0x09: pendingSpace = true
            default:
                if pendingEmptyLines > 0 {
                    for _ in 0..<pendingEmptyLines {
                        chunk += [0x0D, 0x0A]
                        if chunk.count >= Self.chunkSize { flush() }
                    }
                    pendingEmptyLines = 0
                }
                if pendingSpace {
                    chunk.append(0x20)
                    pendingSpace = false
                }
                // A run that canonicalization leaves as it is: text, with single
                // spaces between words, up to the next line end or other whitespace.
                var end = index + 1
                while end < bytes.count {
                    let next = bytes[end]
                    if next == 0x20, end + 1 < bytes.count, !Self.isSpecial(bytes[end + 1]) {
                        end += 2
                    } else if Self.isSpecial(next) {
                        break
                    } else {
                        end += 1
                    }
                }
                chunk.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<end]))
                lineHasContent = true
                if chunk.count >= Self.chunkSize { flush() }
                index = end
                continue
            }
            index += 1
        }
    }

    /// Line ends and whitespace: the bytes canonicalization may change.
    private static func isSpecial(_ byte: UInt8) -> Bool {
        byte == 0x0D || byte == 0x0A || byte == 0x20 || byte == 0x09
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The hash of the canonical body: `bh=` is its base64.
    public mutating func finalize() -> SHA256.Digest {
        if pendingCarriageReturn {
            pendingCarriageReturn = false
            endLine()
        }
        if lineHasContent { endLine() }
        flush()
        return hash.finalize()
    }

    private mutating func endLine() {
        pendingSpace = false
        if lineHasContent {
            chunk += [0x0D, 0x0A]
            lineHasContent = false
        } else {
            pendingEmptyLines += 1
        }
    }

    private mutating func flush() {
        hash.update(data: chunk)
        chunk.removeAll(keepingCapacity: true)
    }
}
