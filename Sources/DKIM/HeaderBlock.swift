/// The fields of a message's header block (RFC 5322 §2.2), each with its folded
/// lines and final CRLF, and the choice of fields a signature covers (RFC 6376
/// §5.4.2).
struct HeaderBlock {
    /// Lower-case name and the field's bytes.
    let fields: [(name: String, bytes: ArraySlice<UInt8>)]

    /// `block`: the header block without the empty line that ends it.
    init(_ block: ArraySlice<UInt8>) {
        var fields: [(String, ArraySlice<UInt8>)] = []
        var start = block.startIndex
        var index = block.startIndex
        while index < block.endIndex {
            guard let lineFeed = block[index...].firstIndex(of: 0x0A) else {
                index = block.endIndex
                break
            }
            index = lineFeed + 1
            // A line starting with whitespace continues the field (folding).
            if index < block.endIndex, block[index] == 0x20 || block[index] == 0x09 { continue }
            fields.append((Self.name(of: block[start..<index]), block[start..<index]))
            start = index
        }
        if start < block.endIndex { fields.append((Self.name(of: block[start...]), block[start...])) }
        self.fields = fields
    }

    private static func name(of field: ArraySlice<UInt8>) -> String {
        let name = field.prefix { $0 != UInt8(ascii: ":") }
        return String(decoding: name, as: UTF8.self).trimmingWhitespace().lowercased()
    }

    /// `h=` for the names wanted: each name as often as its field occurs, `from`
    /// once more (oversigned, so that no From can be added above it).
    func signedNames(_ wanted: [String]) -> [String] {
        wanted.flatMap { name in
            let count = fields.count { $0.name == name }
            return Array(repeating: name, count: name == "from" ? count + 1 : count)
        }
    }

    /// The canonical header data for `names` (§5.4.2): for each name, the next
    /// occurrence from the bottom up; a name with none left adds nothing.
    func canonicalized(_ names: [String]) -> [UInt8] {
        var used: [String: Int] = [:]
        var output: [UInt8] = []
        for name in names {
            let occurrences = fields.filter { $0.name == name }
            let taken = used[name, default: 0]
            used[name] = taken + 1
            guard taken < occurrences.count else { continue }
            output += RelaxedHeader.canonicalize(occurrences[occurrences.count - 1 - taken].bytes)
        }
        return output
    }

    /// The From field, if there is one.
    var from: ArraySlice<UInt8>? {
        fields.first { $0.name == "from" }?.bytes
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
