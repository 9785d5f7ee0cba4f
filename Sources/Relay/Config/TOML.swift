/// A small TOML reader for Veil's configuration: tables, arrays of tables, strings,
/// integers, booleans and arrays, each value with the line it came from so that
/// every error can name `file:line: key`.
///
/// Supported (TOML 1.0 subset): `key = value`, `[table]`, `[[array.of.tables]]`,
/// basic and literal strings, decimal integers, `true`/`false`, arrays (also over
/// several lines), `#` comments. Anything else is a syntax error with its line.
struct TOMLTable {
    struct Entry {
        var value: TOMLValue
        var line: Int
    }
    var entries: [(key: String, entry: Entry)] = []
    /// Where the table header stood (0 for the root).
    var line: Int

    subscript(key: String) -> Entry? {
        entries.first { $0.key == key }?.entry
    }
}

indirect enum TOMLValue {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case array([TOMLValue])
    case table(TOMLTable)
    case tables([TOMLTable])

    var typeName: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .boolean: return "a boolean"
        case .array: return "an array"
        case .table: return "a table"
        case .tables: return "an array of tables"
        }
    }
}

struct TOMLSyntaxError: Error {
    var line: Int
    var message: String
}

enum TOMLParser {
    static func parse(_ text: String) throws(TOMLSyntaxError) -> TOMLTable {
        var root = TOMLTable(line: 0)
        /// The path of the table that `key = value` lines go to; for arrays of tables,
        /// the last element.
        var currentPath: [String] = []
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Substring($0) }.makeIterator()
        var lineNumber = 0
        while var line = lines.next() {
            lineNumber += 1
            let start = lineNumber
            if line.hasSuffix("\r") { line = line.dropLast() }
            var scanner = Scanner(text: line, line: lineNumber)
            scanner.skipSpaces()
            if scanner.atEndOrComment { continue }
            if scanner.peek == "[" {
                let isArray = scanner.text.dropFirst(scanner.offset).hasPrefix("[[")
                scanner.advance(isArray ? 2 : 1)
                let path = try scanner.keyPath()
                scanner.skipSpaces()
                guard scanner.consume(isArray ? "]]" : "]") else { throw scanner.error("expected ']'") }
                try scanner.expectEnd()
                try declareTable(path, isArray: isArray, in: &root, line: start)
                currentPath = path
                continue
            }
            let key = try scanner.keyPath()
            scanner.skipSpaces()
            guard scanner.consume("=") else { throw scanner.error("expected '=' after the key") }
            scanner.skipSpaces()
            // Arrays may run over several lines: gather them.
            while scanner.text.dropFirst(scanner.offset).first == "[" && !arrayIsClosed(scanner.text.dropFirst(scanner.offset)) {
                guard let more = lines.next() else { throw scanner.error("unterminated array") }
                lineNumber += 1
                scanner.text += " " + (more.hasSuffix("\r") ? more.dropLast() : more)
            }
            let value = try scanner.value()
            try scanner.expectEnd()
            try insert(value, at: currentPath + key, in: &root, line: start)
        }
        return root
    }

    private static func arrayIsClosed(_ text: Substring) -> Bool {
        var depth = 0
        var quote: Character?
        var escaped = false
        for character in text {
            if let open = quote {
                if escaped { escaped = false } else if character == "\\" && open == "\"" { escaped = true } else if character == open { quote = nil }
                continue
            }
            switch character {
            case "\"", "'": quote = character
            case "[": depth += 1
            case "]": depth -= 1; if depth == 0 { return true }
            case "#": return false
            default: break
            }
        }
        return false
    }

    private static func declareTable(_ path: [String], isArray: Bool, in root: inout TOMLTable, line: Int) throws(TOMLSyntaxError) {
        try modify(&root, path: path.dropLast(), line: line) { (table: inout TOMLTable) throws(TOMLSyntaxError) in
            let name = path.last!
            let index = table.entries.firstIndex { $0.key == name }
            switch (index.map { table.entries[$0].entry.value }, isArray) {
            case (nil, false):
                table.entries.append((name, .init(value: .table(TOMLTable(line: line)), line: line)))
            case (nil, true):
                table.entries.append((name, .init(value: .tables([TOMLTable(line: line)]), line: line)))
            case (.tables(var list)?, true):
                list.append(TOMLTable(line: line))
                table.entries[index!].entry.value = .tables(list)
            default:
                throw TOMLSyntaxError(line: line, message: "\(path.joined(separator: ".")): defined twice")
            }
        }
    }

    private static func insert(_ value: TOMLValue, at path: [String], in root: inout TOMLTable, line: Int) throws(TOMLSyntaxError) {
        try modify(&root, path: path.dropLast(), line: line) { (table: inout TOMLTable) throws(TOMLSyntaxError) in
            let name = path.last!
            guard table[name] == nil else {
                throw TOMLSyntaxError(line: line, message: "\(path.joined(separator: ".")): defined twice")
            }
            table.entries.append((name, .init(value: value, line: line)))
        }
    }

    /// Walks to the table at `path` (the last element of arrays of tables), creating
    /// plain tables on the way, and applies `change` to it.
    private static func modify(_ table: inout TOMLTable, path: ArraySlice<String>, line: Int,
                               _ change: (inout TOMLTable) throws(TOMLSyntaxError) -> Void) throws(TOMLSyntaxError) {
        guard let first = path.first else { return try change(&table) }
        let index: Int
        if let existing = table.entries.firstIndex(where: { $0.key == first }) {
            index = existing
        } else {
            table.entries.append((first, .init(value: .table(TOMLTable(line: line)), line: line)))
            index = table.entries.count - 1
        }
        switch table.entries[index].entry.value {
        case .table(var child):
            try modify(&child, path: path.dropFirst(), line: line, change)
            table.entries[index].entry.value = .table(child)
        case .tables(var list):
            try modify(&list[list.count - 1], path: path.dropFirst(), line: line, change)
            table.entries[index].entry.value = .tables(list)
        default:
            throw TOMLSyntaxError(line: line, message: "\(first): is not a table")
        }
    }
}

/// Reads one line (or a gathered multi-line array) character by character.
private struct Scanner {
    var text: Substring
    let line: Int
    var offset = 0

    init(text: Substring, line: Int) {
        self.text = text
        self.line = line
    }

    var peek: Character? { offset < text.count ? text[text.index(text.startIndex, offsetBy: offset)] : nil }
    var atEndOrComment: Bool { peek == nil || peek == "#" }

    mutating func advance(_ count: Int = 1) { offset += count }

    mutating func skipSpaces() {
        while peek == " " || peek == "\t" { advance() }
    }

    mutating func consume(_ literal: String) -> Bool {
        guard text.dropFirst(offset).hasPrefix(literal) else { return false }
        advance(literal.count)
        return true
    }

    func error(_ message: String) -> TOMLSyntaxError {
        TOMLSyntaxError(line: line, message: message)
    }

    mutating func expectEnd() throws(TOMLSyntaxError) {
        skipSpaces()
        guard atEndOrComment else { throw error("unexpected text after the value") }
    }

    /// `key = simple-key *( "." simple-key )`, bare keys only.
    mutating func keyPath() throws(TOMLSyntaxError) -> [String] {
        var path: [String] = []
        repeat {
            skipSpaces()
            var key = ""
            while let character = peek, character.isASCII, character.isLetter || character.isNumber || character == "_" || character == "-" {
                key.append(character)
                advance()
            }
            guard !key.isEmpty else { throw error("expected a key") }
            path.append(key)
            skipSpaces()
        } while consume(".")
        return path
    }

    mutating func value() throws(TOMLSyntaxError) -> TOMLValue {
        switch peek {
        case "\"": return .string(try basicString())
        case "'": return .string(try literalString())
        case "[": return try array()
        case "t" where consume("true"): return .boolean(true)
        case "f" where consume("false"): return .boolean(false)
        default:
            var digits = ""
            while let character = peek, character.isNumber || character == "-" || character == "+" || character == "_" {
                if character != "_" { digits.append(character) }
                advance()
            }
            guard let number = Int(digits) else { throw error("expected a value (string, number, boolean or array)") }
            return .integer(number)
        }
    }

    private mutating func basicString() throws(TOMLSyntaxError) -> String {
        advance()
        var result = ""
        while let character = peek {
            advance()
            switch character {
            case "\"":
                return result
            case "\\":
                guard let escaped = peek else { break }
                advance()
                switch escaped {
                case "\"": result.append("\"")
                case "\\": result.append("\\")
                case "n": result.append("\n")
                case "t": result.append("\t")
                case "r": result.append("\r")
                default: throw error("unsupported escape \\\(escaped)")
                }
            default:
                result.append(character)
            }
        }
        throw error("unterminated string")
    }

    private mutating func literalString() throws(TOMLSyntaxError) -> String {
        advance()
        var result = ""
        while let character = peek {
            advance()
            if character == "'" { return result }
            result.append(character)
        }
        throw error("unterminated string")
    }

    private mutating func array() throws(TOMLSyntaxError) -> TOMLValue {
        advance()
        var items: [TOMLValue] = []
        while true {
            skipSpaces()
            if consume("]") { return .array(items) }
            items.append(try value())
            skipSpaces()
            if consume(",") { continue }
            guard consume("]") else { throw error("expected ',' or ']' in the array") }
            return .array(items)
        }
    }
}
