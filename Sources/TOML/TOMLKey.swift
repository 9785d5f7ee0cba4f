/// Writes key paths the way a TOML file would (TOML 1.0 §Keys): bare keys as they
/// are, any other key as a basic string, parts joined by dots.
public enum TOMLKey {
    public static func display(_ path: some Sequence<String>) -> String {
        path.map(display).joined(separator: ".")
    }

    public static func display(_ key: String) -> String {
        if !key.isEmpty, key.utf8.allSatisfy(isBare) { return key }
        return quoted(key)
    }

    /// unquoted-key = 1*( ALPHA / DIGIT / %x2D / %x5F )
    static func isBare(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }

    /// A basic string: `"` and `\` escaped, control characters as `\uXXXX`.
    public static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\u{0}"..."\u{1F}", "\u{7F}":
                let hex = String(scalar.value, radix: 16, uppercase: true)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
