import Foundation

/// The fields of a message's header block (RFC 5322 §2.2), each with its folded
/// lines and final CRLF, and the choice of fields a signature covers (RFC 6376
/// §5.4.2).
struct HeaderBlock: Sendable {
    /// Each lower-case name's fields, top to bottom.
    private let fieldsByName: [String: [ArraySlice<UInt8>]]

    /// `block`: the header block without the empty line that ends it.
    init(_ block: ArraySlice<UInt8>) {
        var fields: [String: [ArraySlice<UInt8>]] = [:]
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
            fields[Self.name(of: block[start..<index]), default: []].append(block[start..<index])
            start = index
        }
        if start < block.endIndex { fields[Self.name(of: block[start...]), default: []].append(block[start...]) }
        fieldsByName = fields
    }

    private static func name(of field: ArraySlice<UInt8>) -> String {
        let name = field.prefix { $0 != UInt8(ascii: ":") }
        return String(decoding: name, as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// Occurrences signed of one name at most: more (a header block of thousands
    /// of To fields) are left unsigned, so that the signature field stays small.
    static let maximumSignedOccurrences = 20

    /// `h=` for the names wanted: each name once more than its field occurs, also
    /// when it does not occur (RFC 6376 §8.15: no field can be added on top of
    /// those signed, nor a missing one put in, without breaking the signature).
    func signedNames(_ wanted: [String]) -> [String] {
        wanted.flatMap { name in
            Array(repeating: name, count: min(fieldsByName[name]?.count ?? 0, Self.maximumSignedOccurrences) + 1)
        }
    }

    /// The canonical header data for `names` (§5.4.2): for each name, the next
    /// occurrence from the bottom up; a name with none left adds nothing.
    func canonicalized(_ names: [String]) -> [UInt8] {
        var used: [String: Int] = [:]
        var output: [UInt8] = []
        for name in names {
            let occurrences = fieldsByName[name] ?? []
            let taken = used[name, default: 0]
            used[name] = taken + 1
            guard taken < occurrences.count else { continue }
            output += RelaxedHeader.canonicalize(occurrences[occurrences.count - 1 - taken])
        }
        return output
    }

    /// The (first) From field, if there is one.
    var from: ArraySlice<UInt8>? {
        fieldsByName["from"]?.first
    }
}
