/// Finds the end of a message's header block, the first empty line, in a message
/// read in pieces (RFC 5322 §2.1: header fields, then an empty line, then the body).
/// Lines end in LF or CR LF, as in a spool file.
///
///     message    = header-block [empty-line body]
///     empty-line = [CR] LF          ; at the start of a line
struct HeaderBlockScanner {
    /// True at the start of the message and after each LF.
    private var atLineStart = true

    /// How many bytes at the front of `piece` belong to the header block, and whether
    /// the block ends there (the empty line follows them and is not counted).
    ///
    /// A CR that starts a line and is the last byte of `piece` is not counted either:
    /// the next byte tells whether it begins the empty line or header text. The caller
    /// passes it again at the front of the next piece, or takes it as header text when
    /// the message ends there.
    mutating func scan(_ piece: UnsafeRawBufferPointer) -> (length: Int, ended: Bool) {
        var index = 0
        while index < piece.count {
            let byte = piece[index]
            if atLineStart {
                if byte == 10 { return (index, true) }
                if byte == 13 {
                    guard index + 1 < piece.count else { return (index, false) }
                    if piece[index + 1] == 10 { return (index, true) }
                }
            }
            atLineStart = byte == 10
            index += 1
        }
        return (index, false)
    }
}
