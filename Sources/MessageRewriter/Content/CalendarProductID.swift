/// Replaces the PRODID property of an iCalendar object (RFC 5545 §3.7.3) by Veil's
/// own. Outlook writes `PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN`
/// and Exchange `PRODID:Microsoft Exchange Server 2010`: the sender's software and
/// version. Every other line passes as it is (Outlook's X-MICROSOFT-* properties
/// are what makes an invitation work).
///
/// Works on the decoded calendar text, chunk by chunk, holding at most the start
/// of a line that may be the PRODID's (its name may be folded too):
///
///     contentline = name *(";" param) ":" value CRLF    ; RFC 5545 §3.1
///     folding     = CRLF (SPACE / HTAB)                 ; anywhere in a line
struct CalendarProductID: ContentCoder {
    static let replacement = Array("PRODID:-//Veil//Veil//EN".utf8)
    private static let name = Array("prodid".utf8)
    /// A line start held longer than this (folds upon folds) is no PRODID.
    private static let maximumHeld = 64

    private enum Fold {
        case none
        /// A CR inside the name: a fold if LF and a space follow.
        case carriageReturn
        /// A line end inside the name: a fold if a space follows.
        case lineFeed
    }

    private enum State {
        /// At the start of a line, holding the bytes that match "PRODID" so far.
        case name(matched: Int, fold: Fold)
        /// In a line that passes.
        case passing
        /// In the PRODID line (its line end is written after the replacement) or
        /// in one of its continuation lines (nothing of it is written).
        case dropping(continuation: Bool)
        /// At the start of the line after the PRODID line or a continuation line.
        case afterProductID
    }

    private var state = State.name(matched: 0, fold: .none)
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
        state = .name(matched: 0, fold: .none)
    }

    private mutating func step(_ byte: UInt8, into output: inout [UInt8]) {
        switch state {
        case .passing:
            output.append(byte)
            if byte == 10 { state = .name(matched: 0, fold: .none) }
        case .name(let matched, let fold):
            matchName(byte, matched: matched, fold: fold, into: &output)
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
                state = .name(matched: 0, fold: .none)
                step(byte, into: &output)
            }
        }
    }

    private mutating func matchName(_ byte: UInt8, matched: Int, fold: Fold, into output: inout [UInt8]) {
        switch fold {
        case .carriageReturn where byte == 10, .none where matched > 0 && byte == 10:
            hold(byte, .name(matched: matched, fold: .lineFeed), into: &output)
        case .none where matched > 0 && byte == 13:
            hold(byte, .name(matched: matched, fold: .carriageReturn), into: &output)
        case .lineFeed where byte == 32 || byte == 9:
            hold(byte, .name(matched: matched, fold: .none), into: &output)
        case .lineFeed:
            // The line ended inside the name: it was some other line; this byte
            // starts a new one.
            output += held
            held = []
            state = .name(matched: 0, fold: .none)
            step(byte, into: &output)
        case .none where matched == Self.name.count && (byte == UInt8(ascii: ":") || byte == UInt8(ascii: ";")):
            output += Self.replacement
            replaced += 1
            held = []
            lastDropped = 0
            state = .dropping(continuation: false)
        case .none where matched < Self.name.count && byte.asciiLowercased == Self.name[matched]:
            hold(byte, .name(matched: matched + 1, fold: .none), into: &output)
        case .none, .carriageReturn:
            output += held
            held = []
            state = .passing
            step(byte, into: &output)
        }
    }

    private mutating func hold(_ byte: UInt8, _ next: State, into output: inout [UInt8]) {
        held.append(byte)
        state = next
        if held.count > Self.maximumHeld {
            output += held
            held = []
            state = .passing
        }
    }
}
