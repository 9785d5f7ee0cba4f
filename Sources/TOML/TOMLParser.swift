// Longer than 300 lines: TOML 1.0's grammar as one recursive-descent parser, in two files:
// structure here, values in TOMLParser+Values.swift.

/// Reads a TOML 1.0 document (https://toml.io/en/v1.0.0) into a `TOMLTable` whose
/// every value knows its line.
///
/// Everything a configuration file can hold is read as TOML 1.0 says: comments on
/// any line (also inside multi-line arrays), basic, literal and multi-line strings
/// with every escape, integers in all four bases, floats, booleans, dotted and
/// quoted keys, inline tables, arrays of tables, tables in any order, CRLF line
/// ends. What TOML calls invalid is an error with its line, duplicate keys and
/// tables included. Veil's reader differs from the specification on three points,
/// all by refusing: dates and times (no Veil setting is one; quote the value),
/// nesting deeper than `maximumDepth`, and key paths longer than
/// `maximumKeyParts`.
public struct TOMLParser {
    /// Arrays and inline tables inside each other, at most.
    public static let maximumDepth = 32
    /// Parts of one dotted key or table name, at most.
    public static let maximumKeyParts = 32

    public static func parse(_ text: String) throws(TOMLSyntaxError) -> TOMLTable {
        try parse(Array(text.utf8))
    }

    public static func parse(_ bytes: [UInt8]) throws(TOMLSyntaxError) -> TOMLTable {
        try validateUTF8(bytes)
        var parser = TOMLParser(bytes: bytes)
        return try parser.document()
    }

    let bytes: [UInt8]
    var position = 0
    var line = 1
    /// Arrays and inline tables open around the current position.
    var depth = 0
    /// Numbers the sections (the root, each header, each inline table) for
    /// `TableBuilder.Origin.dotted`.
    var sections = 0
    /// The key whose value is being read, for error messages.
    var keyContext: [String] = []

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// TOML 1.0 §Spec: "A TOML file must be a valid UTF-8 encoded Unicode document."
    private static func validateUTF8(_ bytes: [UInt8]) throws(TOMLSyntaxError) {
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var line = 1
        var first = true
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\n" { line += 1 }
                if scalar == "\u{FEFF}" && first {
                    throw TOMLSyntaxError(line: line, key: nil, message: "a byte order mark (U+FEFF) is not TOML; save the file as UTF-8 without it")
                }
                first = false
            case .emptyInput:
                return
            case .error:
                throw TOMLSyntaxError(line: line, key: nil, message: "not valid UTF-8")
            }
        }
    }

    // MARK: Lines

    // toml = expression *( newline expression )
    // expression =  ws [ comment ]
    // expression =/ ws keyval ws [ comment ]
    // expression =/ ws table ws [ comment ]
    private mutating func document() throws(TOMLSyntaxError) -> TOMLTable {
        let root = TableBuilder(origin: .header, line: 0)
        var table = root
        var path: [String] = []
        var section = 0
        while true {
            skipWhitespace()
            guard let byte = peek else { break }
            switch byte {
            case .hash, .lineFeed, .carriageReturn:
                break
            case .openBracket:
                sections += 1
                section = sections
                (table, path) = try header(root: root)
            default:
                try keyValue(into: table, at: path, section: section)
            }
            try endOfLine()
            keyContext = []
        }
        return root.build()
    }

    /// `ws [ comment ]` then a newline or the end of the document.
    private mutating func endOfLine() throws(TOMLSyntaxError) {
        skipWhitespace()
        try skipComment()
        if peek == nil { return }
        guard try consumeNewline() else {
            throw error(keyContext.isEmpty ? "unexpected text; a new line must follow" : "unexpected text after the value")
        }
    }

    /// comment = "#" *non-eol; non-eol = %x09 / %x20-7E / non-ascii (TOML 1.0 §Comment:
    /// "Control characters other than tab are not permitted in comments.")
    mutating func skipComment() throws(TOMLSyntaxError) {
        guard peek == .hash else { return }
        while let byte = peek, byte != .lineFeed, byte != .carriageReturn {
            guard byte == .tab || byte >= 0x20 && byte != 0x7F else { throw controlCharacter(byte, in: "a comment") }
            advance()
        }
    }

    /// newline = %x0A / %x0D.0A
    mutating func consumeNewline() throws(TOMLSyntaxError) -> Bool {
        switch peek {
        case .lineFeed:
            advance()
            return true
        case .carriageReturn:
            guard peek(at: 1) == .lineFeed else { throw error("a carriage return must be followed by a line feed") }
            advance(2)
            return true
        default:
            return false
        }
    }

    // MARK: Tables

    // table = std-table / array-table
    // std-table = "[" ws key ws "]"
    // array-table = "[[" ws key ws "]]"
    private mutating func header(root: TableBuilder) throws(TOMLSyntaxError) -> (TableBuilder, [String]) {
        let line = self.line
        advance()
        let isArray = consume(.openBracket)
        skipWhitespace()
        let path = try key()
        skipWhitespace()
        guard consume(.closeBracket), !isArray || consume(.closeBracket) else {
            throw error(isArray ? "expected ']]' after the table name" : "expected ']' after the table name")
        }
        return (try declare(path, isArray: isArray, in: root, line: line), path)
    }

    /// TOML 1.0 §Table and §Array of Tables: `[a.b.c]` makes `a` and `a.b` if needed,
    /// goes into the last element of an array of tables on the way, and defines
    /// `c` once; `[[a.b.c]]` adds an element to `c`.
    private func declare(_ path: [String], isArray: Bool, in root: TableBuilder, line: Int) throws(TOMLSyntaxError) -> TableBuilder {
        var table = root
        for (index, part) in path.dropLast().enumerated() {
            switch table[part] {
            case nil:
                let child = TableBuilder(origin: .implicit, line: line)
                table.add(part, .table(child))
                table = child
            case .table(let child)?:
                table = child
            case .tables(let array)?:
                table = array.elements.last!
            case .value(let value)?:
                throw notExtensible(value, path.prefix(index + 1), line: line)
            }
        }
        let name = path.last!
        let display = TOMLKey.display(path)
        let new = TableBuilder(origin: .header, line: line)
        switch (table[name], isArray) {
        case (nil, false):
            table.add(name, .table(new))
        case (nil, true):
            table.add(name, .tables(.init(first: new)))
        case (.tables(let array)?, true):
            array.elements.append(new)
        case (.table(let existing)?, false) where existing.origin == .implicit:
            existing.origin = .header
            existing.line = line
            return existing
        case (.table(let existing)?, _):
            let how = existing.origin == .header ? "as a table" : "by dotted keys"
            throw TOMLSyntaxError(line: line, key: display, message: "already defined \(how) on line \(existing.line)")
        case (.tables(let array)?, false):
            throw TOMLSyntaxError(line: line, key: display, message: "already an array of tables ([[\(display)]], line \(array.line))")
        case (.value(let value)?, _):
            throw TOMLSyntaxError(line: line, key: display, message: "already defined as \(value.typeName) on line \(value.line)")
        }
        return new
    }

    // MARK: Key/value pairs

    // keyval = key keyval-sep val
    // keyval-sep = ws "=" ws
    mutating func keyValue(into table: TableBuilder, at tablePath: [String], section: Int) throws(TOMLSyntaxError) {
        let line = self.line
        let key = try key()
        keyContext = tablePath + key
        skipWhitespace()
        guard consume(.equals) else { throw error("expected '=' after the key") }
        skipWhitespace()
        let value = try value()
        try assign(value, to: key, in: table, tablePath: tablePath, section: section, line: line)
    }

    /// TOML 1.0 §Keys: "Dotted keys create and define a table for each key part
    /// before the last one, provided that such tables were not previously
    /// created"; §Table: defining a key or table twice is invalid.
    private func assign(_ value: TOMLValue, to key: [String], in start: TableBuilder, tablePath: [String], section: Int,
                        line: Int) throws(TOMLSyntaxError) {
        var table = start
        for (index, part) in key.dropLast().enumerated() {
            switch table[part] {
            case nil:
                let child = TableBuilder(origin: .dotted(section: section), line: line)
                table.add(part, .table(child))
                table = child
            case .table(let child)?:
                switch child.origin {
                case .implicit:
                    child.origin = .dotted(section: section)
                case .dotted(section):
                    break
                case .header, .dotted:
                    throw TOMLSyntaxError(line: line, key: TOMLKey.display(tablePath + key.prefix(index + 1)),
                                          message: "a table defined on line \(child.line) cannot be extended with dotted keys here")
                }
                table = child
            case .tables?:
                throw TOMLSyntaxError(line: line, key: TOMLKey.display(tablePath + key.prefix(index + 1)),
                                      message: "an array of tables cannot be extended with dotted keys")
            case .value(let value)?:
                throw notExtensible(value, tablePath + key.prefix(index + 1), line: line)
            }
        }
        let name = key.last!
        if let existing = table[name] {
            let first: Int
            switch existing {
            case .value(let value): first = value.line
            case .table(let child): first = child.line
            case .tables(let array): first = array.line
            }
            throw TOMLSyntaxError(line: line, key: TOMLKey.display(tablePath + key), message: "defined twice (first on line \(first))")
        }
        table.add(name, .value(value))
    }

    private func notExtensible(_ value: TOMLValue, _ path: some Sequence<String>, line: Int) -> TOMLSyntaxError {
        let problem: String
        switch value.kind {
        case .table: problem = "an inline table (line \(value.line)) cannot be extended"
        case .array: problem = "an array (line \(value.line)) cannot be extended"
        default: problem = "is \(value.typeName) (line \(value.line)), not a table"
        }
        return TOMLSyntaxError(line: line, key: TOMLKey.display(path), message: problem)
    }

    // key = simple-key / dotted-key
    // dotted-key = simple-key 1*( dot-sep simple-key )
    // dot-sep = ws "." ws
    mutating func key() throws(TOMLSyntaxError) -> [String] {
        var path: [String] = []
        while true {
            path.append(try simpleKey())
            guard path.count <= Self.maximumKeyParts else { throw error("a key has more than \(Self.maximumKeyParts) parts") }
            skipWhitespace()
            guard consume(.dot) else { return path }
            skipWhitespace()
        }
    }

    // simple-key = quoted-key / unquoted-key
    // quoted-key = basic-string / literal-string
    // unquoted-key = 1*( ALPHA / DIGIT / %x2D / %x5F )
    private mutating func simpleKey() throws(TOMLSyntaxError) -> String {
        switch peek {
        case .quote?:
            return try basicString()
        case .apostrophe?:
            return try literalString()
        case let byte? where TOMLKey.isBare(byte):
            let start = position
            while let byte = peek, TOMLKey.isBare(byte) { advance() }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        default:
            throw error("expected a key")
        }
    }

    // MARK: Reading bytes

    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    func peek(at offset: Int) -> UInt8? {
        position + offset < bytes.count ? bytes[position + offset] : nil
    }

    mutating func advance(_ count: Int = 1) {
        for _ in 0..<count where position < bytes.count {
            if bytes[position] == .lineFeed { line += 1 }
            position += 1
        }
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        advance()
        return true
    }

    /// ws = *( %x20 / %x09 )
    mutating func skipWhitespace() {
        while peek == .space || peek == .tab { advance() }
    }

    func error(_ message: String, line: Int? = nil) -> TOMLSyntaxError {
        TOMLSyntaxError(line: line ?? self.line, key: keyContext.isEmpty ? nil : TOMLKey.display(keyContext), message: message)
    }

    func controlCharacter(_ byte: UInt8, in place: String) -> TOMLSyntaxError {
        let hex = String(byte, radix: 16, uppercase: true)
        return error("control character U+\(String(repeating: "0", count: 4 - hex.count) + hex) in \(place)")
    }
}

extension UInt8 {
    static let tab = UInt8(ascii: "\t")
    static let lineFeed = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let space = UInt8(ascii: " ")
    static let quote = UInt8(ascii: "\"")
    static let apostrophe = UInt8(ascii: "'")
    static let hash = UInt8(ascii: "#")
    static let dot = UInt8(ascii: ".")
    static let comma = UInt8(ascii: ",")
    static let equals = UInt8(ascii: "=")
    static let backslash = UInt8(ascii: "\\")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
}
