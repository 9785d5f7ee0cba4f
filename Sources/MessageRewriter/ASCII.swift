/// ASCII case folding for header bytes (field names, media types, domains): only
/// A–Z change, UTF-8 bytes are left as they are.
extension UInt8 {
    var asciiLowercased: UInt8 { self >= 65 && self <= 90 ? self | 0x20 : self }
}

extension Sequence<UInt8> {
    func asciiLowercased() -> [UInt8] { map { $0.asciiLowercased } }
}
