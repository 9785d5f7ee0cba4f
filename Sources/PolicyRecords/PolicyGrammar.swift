/// What the TXT records of MTA-STS (RFC 8461 §3.1) and of TLS reporting (RFC 8460
/// §3) share: a version, then `name=value` fields with the same delimiter and the
/// same extension rules; and a lookup keeps only the records that begin with the
/// version, and needs exactly one.
///
///     record      = version 1*(field-delim field) [field-delim]
///     field-delim = *WSP ";" *WSP
///     field       = ext-name "=" value          ; each value checked by its record
///     ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
///     ext-value   = 1*(%x21-3A / %x3C / %x3E-7E) ; not "=", ";", SP or controls
enum PolicyGrammar {
    /// One field, its value as published (WSP around the delimiters left out).
    struct Field: Equatable {
        var name: String
        var value: [UInt8]
    }

    /// What the TXT records of one name say, for one version.
    enum Selection: Equatable {
        /// No record begins with the version.
        case absent
        /// Exactly one does, and it is well formed: its fields, in order.
        case fields([Field])
        /// Several records begin with the version, or the one that does is malformed.
        case invalid(String)
    }

    /// RFC 8461 §3.1, RFC 8460 §3: "records that do not begin with "v=STSv1;" are
    /// discarded. If the number of resulting records is not one", there is no
    /// policy. A record is this version's when the version is followed by a
    /// field-delim or by nothing (`v=STSv1 ;` and a bare `v=STSv1` are, and are
    /// then malformed; `v=STSv10;` and `v=STSv1 id=1` are other records).
    static func select(_ records: [String], version: String) -> Selection {
        let mine = records.map { Array($0.utf8) }.filter { begins($0, with: version) }
        switch mine.count {
        case 0: return .absent
        case 1: return fields(of: mine[0], version: version)
        default: return .invalid("\(mine.count) records begin with \(version)")
        }
    }

    static func begins(_ record: [UInt8], with version: String) -> Bool {
        let version = Array(version.utf8)
        guard record.starts(with: version) else { return false }
        return record[version.count...].first(where: { !isWSP($0) }).map { $0 == semicolon } ?? true
    }

    /// The fields after the version; the record begins with it (`begins`).
    static func fields(of record: [UInt8], version: String) -> Selection {
        // What precedes the first ";" is the version and WSP.
        let pieces = record.split(separator: semicolon, omittingEmptySubsequences: false).dropFirst()
        var fields: [Field] = []
        for (index, piece) in pieces.enumerated() {
            let isLast = index == pieces.count - 1
            // The WSP after a ";", and before one, belongs to the delimiter; after
            // the last field there is no delimiter to take it.
            var field = piece.drop(while: isWSP)
            if !isLast { field = dropTrailingWSP(field) }
            if field.isEmpty {
                if isLast { break }
                return .invalid("an empty field between two semicolons")
            }
            guard let equals = field.firstIndex(of: UInt8(ascii: "=")) else {
                return .invalid("a field without =")
            }
            guard isExtensionName(field[..<equals]) else {
                return .invalid("a field name that is not 1 to 32 letters, digits, _ - .")
            }
            fields.append(Field(name: String(decoding: field[..<equals], as: UTF8.self),
                                value: Array(field[(equals + 1)...])))
        }
        return fields.isEmpty ? .invalid("no field after \(version)") : .fields(fields)
    }

    static let semicolon = UInt8(ascii: ";")

    /// WSP = SP / HTAB (RFC 5234 appendix B.1).
    static func isWSP(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }

    static func isAlphaDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    /// ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
    static func isExtensionName(_ name: some Collection<UInt8>) -> Bool {
        guard let first = name.first, isAlphaDigit(first), name.count <= 32 else { return false }
        return name.allSatisfy { isAlphaDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }

    /// ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
    static func isExtensionValue(_ value: some Collection<UInt8>) -> Bool {
        !value.isEmpty && value.allSatisfy { (0x21...0x7E).contains($0) && $0 != semicolon && $0 != UInt8(ascii: "=") }
    }

    static func dropTrailingWSP<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> C.SubSequence {
        var bytes = bytes[...]
        while let last = bytes.last, isWSP(last) { bytes = bytes.dropLast() }
        return bytes
    }

    static func trimWSP<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> C.SubSequence {
        dropTrailingWSP(bytes.drop(while: isWSP))
    }
}
