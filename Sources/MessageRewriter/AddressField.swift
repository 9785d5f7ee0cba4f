/// The addresses of an address header field (From, Sender, Reply-To ...; RFC 5322
/// §3.4), as far as the relay needs them: their domains.
public enum AddressField {
    /// The domains of the addresses in a From field: `a@b`, `Name <a@b>`, lists
    /// separated by commas, groups (`Team: a@b, c@d;`). Quoted strings and comments
    /// are skipped.
    public static func domains(in field: [UInt8]) -> [String] {
        guard let colon = field.firstIndex(of: UInt8(ascii: ":")) else { return [] }
        var domains: [String] = []
        var current: [UInt8] = []
        var inQuotes = false
        var commentDepth = 0
        var escaped = false
        func finishAddress() {
            // In `Name <addr>` the address is inside the brackets.
            var address = current[...]
            if let open = address.lastIndex(of: UInt8(ascii: "<")) {
                address = address[(open + 1)...]
                if let close = address.firstIndex(of: UInt8(ascii: ">")) { address = address[..<close] }
            }
            if let at = address.lastIndex(of: UInt8(ascii: "@")) {
                let domain = address[(at + 1)...].filter { $0 > 32 && $0 != UInt8(ascii: ">") }
                if !domain.isEmpty { domains.append(String(decoding: domain, as: UTF8.self).lowercased()) }
            }
            current = []
        }
        for byte in field[(colon + 1)...] {
            if escaped { escaped = false; continue }
            switch byte {
            case UInt8(ascii: "\\") where inQuotes || commentDepth > 0: escaped = true
            case UInt8(ascii: "\"") where commentDepth == 0: inQuotes.toggle()
            case UInt8(ascii: "(") where !inQuotes: commentDepth += 1
            case UInt8(ascii: ")") where !inQuotes && commentDepth > 0: commentDepth -= 1
            case UInt8(ascii: ",") where !inQuotes && commentDepth == 0: finishAddress()
            // A group (RFC 5322 §3.4, RFC 6854 for From): its name ends at the colon,
            // its list at the semicolon.
            case UInt8(ascii: ":") where !inQuotes && commentDepth == 0: current = []
            case UInt8(ascii: ";") where !inQuotes && commentDepth == 0: finishAddress()
            default:
                if !inQuotes && commentDepth == 0 { current.append(byte) }
            }
        }
        finishAddress()
        return domains
    }
}
