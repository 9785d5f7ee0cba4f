/// The "relaxed" header canonicalization (RFC 6376 §3.4.2) of one header field
/// (its name, colon, value and folding, with or without the final CRLF): the name
/// in lower case, the value unfolded, runs of whitespace as one space, no
/// whitespace at the end of the value nor around the colon; then CRLF.
public enum RelaxedHeader {
    public static func canonicalize(_ field: some Collection<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(field.count + 2)
        var index = field.startIndex
        // The name, lower-cased, without whitespace before the colon.
        while index != field.endIndex, field[index] != UInt8(ascii: ":") {
            let byte = field[index]
            if byte != 0x20 && byte != 0x09 {
                output.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte)
            }
            index = field.index(after: index)
        }
        output.append(UInt8(ascii: ":"))
        guard index != field.endIndex else { return output + [0x0D, 0x0A] }
        index = field.index(after: index)
        // The value: CR and LF removed (unfolding), whitespace runs as one space,
        // none at the start or the end.
        var pendingSpace = false
        var started = false
        while index != field.endIndex {
            let byte = field[index]
            index = field.index(after: index)
            switch byte {
            case 0x0D, 0x0A: continue
            case 0x20, 0x09: pendingSpace = started
            default:
                if pendingSpace { output.append(0x20) }
                pendingSpace = false
                started = true
                output.append(byte)
            }
        }
        return output + [0x0D, 0x0A]
    }
}
