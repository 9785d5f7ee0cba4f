/// Replaces message ids (`<left@right>`, RFC 5322 §3.6.4) by
/// `<BASE32(HMAC-SHA256(key, left@right))@hostname>`: the same id always maps to
/// the same new one, so replies stay threaded, and no internal host name survives.
enum MessageIDMapping {
    /// Fields whose `<...>` ids are mapped (lower-cased).
    static let fieldNames: [[UInt8]] = ["message-id", "in-reply-to", "references", "content-id"].map { Array($0.utf8) }

    /// Maps every `<...>` in the field; the rest (name, spaces, folding, comments)
    /// keeps its bytes.
    static func rewrite(_ field: ArraySlice<UInt8>, key: [UInt8], hostname: String) -> ArraySlice<UInt8> {
        var output: [UInt8] = []
        var index = field.firstIndex(of: UInt8(ascii: ":")).map { $0 + 1 } ?? field.endIndex
        output += field[field.startIndex..<index]
        while index < field.endIndex {
            guard field[index] == UInt8(ascii: "<"),
                  let close = field[index...].firstIndex(of: UInt8(ascii: ">")),
                  close > index + 1,
                  !field[(index + 1)..<close].contains(where: { $0 == UInt8(ascii: "<") || $0 == 13 || $0 == 10 })
            else {
                output.append(field[index])
                index += 1
                continue
            }
            output += mapped(field[(index + 1)..<close], key: key, hostname: hostname)
            index = close + 1
        }
        return output[...]
    }

    static func mapped(_ id: ArraySlice<UInt8>, key: [UInt8], hostname: String) -> [UInt8] {
        Array("<\(Base32.encode(SHA256.hmac(key: key, message: id)))@\(hostname)>".utf8)
    }
}
