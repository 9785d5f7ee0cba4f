// Longer than 300 lines: TOML 1.0's value grammar (strings in four forms, numbers, dates,
// arrays, inline tables).

extension TOMLParser {
    // val = string / boolean / array / inline-table / date-time / float / integer
    mutating func value() throws(TOMLSyntaxError) -> TOMLValue {
        let line = self.line
        switch peek {
        case let quote? where quote == .quote || quote == .apostrophe:
            if peek(at: 1) == quote && peek(at: 2) == quote {
                return TOMLValue(.string(try multiLineString(quote)), line: line)
            }
            let text = quote == .quote ? try basicString() : try literalString()
            return TOMLValue(.string(text), line: line)
        case .openBracket?:
            return TOMLValue(try array(), line: line)
        case .openBrace?:
            return TOMLValue(try inlineTable(), line: line)
        default:
            return TOMLValue(try bareValue(), line: line)
        }
    }

    // MARK: Arrays and inline tables

    // array = "[" [ array-values ] ws-comment-newline "]"
    // array-values =  ws-comment-newline val ws-comment-newline "," array-values
    // array-values =/ ws-comment-newline val ws-comment-newline [ "," ]
    // TOML 1.0 §Array: "Arrays can span multiple lines", with comments and a
    // trailing comma; the values may be of different types.
    private mutating func array() throws(TOMLSyntaxError) -> TOMLValue.Kind {
        let start = line
        try enterNesting()
        defer { depth -= 1 }
        advance()
        var items: [TOMLValue] = []
        while true {
            try skipBlankLines()
            guard peek != nil else { throw error("the array opened on line \(start) is not closed") }
            if consume(.closeBracket) { return .array(items) }
            items.append(try value())
            try skipBlankLines()
            if consume(.comma) { continue }
            if consume(.closeBracket) { return .array(items) }
            throw error(peek == nil ? "the array opened on line \(start) is not closed"
                                    : "expected ',' or ']' in the array opened on line \(start)")
        }
    }

    // ws-comment-newline = *( wschar / [ comment ] newline )
    private mutating func skipBlankLines() throws(TOMLSyntaxError) {
        while true {
            skipWhitespace()
            try skipComment()
            guard try consumeNewline() else { return }
        }
    }

    // inline-table = "{" ws [ inline-table-keyvals ] ws "}"
    // inline-table-keyvals = keyval [ ws "," ws inline-table-keyvals ]
    // TOML 1.0 §Inline Table: on one line, no trailing comma, closed once read.
    private mutating func inlineTable() throws(TOMLSyntaxError) -> TOMLValue.Kind {
        try enterNesting()
        defer { depth -= 1 }
        let outer = keyContext
        sections += 1
        let section = sections
        let table = TableBuilder(origin: .header, line: line)
        advance()
        skipWhitespace()
        if !consume(.closeBrace) {
            while true {
                guard peek != .lineFeed && peek != .carriageReturn && peek != nil else {
                    throw error("an inline table must be closed on the line where it starts")
                }
                try keyValue(into: table, at: outer, section: section)
                skipWhitespace()
                if consume(.closeBrace) { break }
                guard consume(.comma) else { throw error("expected ',' or '}' in the inline table") }
                skipWhitespace()
                if peek == .closeBrace { throw error("no ',' after the last key of an inline table") }
            }
        }
        keyContext = outer
        return .table(table.build())
    }

    private mutating func enterNesting() throws(TOMLSyntaxError) {
        depth += 1
        guard depth <= Self.maximumDepth else {
            throw error("arrays and inline tables nested more than \(Self.maximumDepth) deep")
        }
    }

    // MARK: Strings

    // basic-string = %x22 *basic-char %x22
    // basic-char = basic-unescaped / escaped
    // basic-unescaped = wschar / %x21 / %x23-5B / %x5D-7E / non-ascii
    mutating func basicString() throws(TOMLSyntaxError) -> String {
        advance()
        var text: [UInt8] = []
        while let byte = peek {
            switch byte {
            case .quote:
                advance()
                return String(decoding: text, as: UTF8.self)
            case .backslash:
                try escape(into: &text)
            case .lineFeed, .carriageReturn:
                throw error("the string is not closed on its line (use \"\"\" for a multi-line string)")
            default:
                guard byte == .tab || byte >= 0x20 && byte != 0x7F else { throw controlCharacter(byte, in: "a string") }
                text.append(byte)
                advance()
            }
        }
        throw error("the string is not closed")
    }

    // literal-string = "'" *literal-char "'"
    // literal-char = %x09 / %x20-26 / %x28-7E / non-ascii
    mutating func literalString() throws(TOMLSyntaxError) -> String {
        advance()
        let start = position
        while let byte = peek, byte != .apostrophe {
            if byte == .lineFeed || byte == .carriageReturn {
                throw error("the string is not closed on its line (use ''' for a multi-line string)")
            }
            guard byte == .tab || byte >= 0x20 && byte != 0x7F else { throw controlCharacter(byte, in: "a string") }
            advance()
        }
        guard peek == .apostrophe else { throw error("the string is not closed") }
        defer { advance() }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    // ml-basic-string = %x22.22.22 [ newline ] ml-basic-body %x22.22.22
    // ml-basic-body = *mlb-content *( mlb-quotes 1*mlb-content ) [ mlb-quotes ]
    // mlb-content = mlb-char / newline / mlb-escaped-nl ; mlb-quotes = 1*2%x22
    // mlb-escaped-nl = escape ws newline *( wschar / newline )
    // ml-literal-string = %x27.27.27 [ newline ] ml-literal-body %x27.27.27, the same
    // without escapes. TOML 1.0 §String: a newline right after the opening
    // delimiter is trimmed; one or two quotes may stand before the closing one.
    // CRLF is read as LF ("parsers should feel free to normalize newline").
    private mutating func multiLineString(_ delimiter: UInt8) throws(TOMLSyntaxError) -> String {
        let start = line
        advance(3)
        _ = try consumeNewline()
        var text: [UInt8] = []
        while let byte = peek {
            switch byte {
            case delimiter where peek(at: 1) == delimiter && peek(at: 2) == delimiter:
                var quotes = 3
                while peek(at: quotes) == delimiter { quotes += 1 }
                guard quotes <= 5 else { throw error("more than two quotes before the end of the string") }
                text += repeatElement(delimiter, count: quotes - 3)
                advance(quotes)
                return String(decoding: text, as: UTF8.self)
            case .backslash where delimiter == .quote:
                var after = 1
                while peek(at: after) == .space || peek(at: after) == .tab { after += 1 }
                if peek(at: after) == .lineFeed || peek(at: after) == .carriageReturn {
                    // A line-ending backslash: the newline and the blanks after it go.
                    advance(after)
                    while try consumeNewline() { skipWhitespace() }
                } else {
                    try escape(into: &text)
                }
            case .lineFeed, .carriageReturn:
                _ = try consumeNewline()
                text.append(.lineFeed)
            default:
                guard byte == .tab || byte >= 0x20 && byte != 0x7F else { throw controlCharacter(byte, in: "a string") }
                text.append(byte)
                advance()
            }
        }
        throw error("the multi-line string opened on line \(start) is not closed")
    }

    // escaped = escape escape-seq-char
    // escape-seq-char = %x22 / %x5C / %x62 / %x66 / %x6E / %x72 / %x74 / %x75 4HEXDIG / %x55 8HEXDIG
    private mutating func escape(into text: inout [UInt8]) throws(TOMLSyntaxError) {
        advance()
        guard let letter = peek else { throw error("the string is not closed") }
        if letter == .lineFeed || letter == .carriageReturn {
            throw error("the string is not closed on its line (a line-ending backslash needs \"\"\")")
        }
        advance()
        switch letter {
        case .quote: text.append(.quote)
        case .backslash: text.append(.backslash)
        case UInt8(ascii: "b"): text.append(0x08)
        case UInt8(ascii: "f"): text.append(0x0C)
        case UInt8(ascii: "n"): text.append(.lineFeed)
        case UInt8(ascii: "r"): text.append(.carriageReturn)
        case UInt8(ascii: "t"): text.append(.tab)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = letter == UInt8(ascii: "u") ? 4 : 8
            var value: UInt32 = 0
            for _ in 0..<count {
                guard let byte = peek, let digit = Self.digitValue(byte), digit < 16 else {
                    throw error("\\\(Character(Unicode.Scalar(letter))) needs \(count) hexadecimal digits")
                }
                value = value << 4 | UInt32(digit)
                advance()
            }
            // TOML 1.0 §String: "Any Unicode character may be escaped ... The
            // codepoint must be a valid Unicode scalar value."
            guard let scalar = Unicode.Scalar(value) else {
                throw error("\\\(Character(Unicode.Scalar(letter)))\(String(value, radix: 16, uppercase: true)) is not a Unicode scalar value")
            }
            text += Array(String(Character(scalar)).utf8)
        default:
            let shown = letter < 0x20 || letter >= 0x7F ? "a control or non-ASCII character" : "\\" + String(Character(Unicode.Scalar(letter)))
            throw error("\(shown) is not an escape of TOML (\\\" \\\\ \\b \\f \\n \\r \\t \\uXXXX \\UXXXXXXXX)")
        }
    }

    // MARK: Booleans and numbers

    /// A value without quotes or brackets: `true`, `false`, an integer or a float,
    /// up to the first byte that cannot be part of one.
    private mutating func bareValue() throws(TOMLSyntaxError) -> TOMLValue.Kind {
        let start = position
        while let byte = peek, TOMLKey.isBare(byte) || byte == .dot || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ":") {
            advance()
        }
        let token = bytes[start..<position]
        let text = String(decoding: token, as: UTF8.self)
        switch text {
        case "": throw error("expected a value")
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        // special-float = [ minus / plus ] ( inf / nan )
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan": return .float(.nan)
        case "-nan": return .float(-.nan)
        default: break
        }
        if Self.looksLikeDate(token) {
            throw error("dates and times are not supported (no Veil setting is one); write \(text) as a string")
        }
        if let integer = try integer(token) { return .integer(integer) }
        if let float = Self.float(token) { return .float(float) }
        throw error("\(text) is not a TOML value (strings need quotes)")
    }

    /// TOML 1.0 §Offset Date-Time to §Local Time: `1979-05-27...` or `07:32...`.
    private static func looksLikeDate(_ token: ArraySlice<UInt8>) -> Bool {
        let digits = token.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        let next = token.dropFirst(digits.count).first
        return digits.count == 4 && next == UInt8(ascii: "-") || digits.count == 2 && next == UInt8(ascii: ":")
    }

    // integer = dec-int / hex-int / oct-int / bin-int
    // dec-int = [ minus / plus ] unsigned-dec-int
    // unsigned-dec-int = DIGIT / digit1-9 1*( DIGIT / underscore DIGIT )
    // hex-int = "0x" HEXDIG *( HEXDIG / underscore HEXDIG ), the same for "0o" and "0b"
    /// nil when the token is no integer (maybe a float); an error when it is one
    /// that does not fit in 64 bits (TOML 1.0 §Integer: "an error must be thrown").
    private func integer(_ token: ArraySlice<UInt8>) throws(TOMLSyntaxError) -> Int? {
        let text = String(decoding: token, as: UTF8.self)
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where text.hasPrefix(prefix) {
            guard let digits = Self.digits(token.dropFirst(2), radix: UInt8(radix)) else { throw error("\(text) is not a valid integer") }
            guard let value = Int(digits, radix: radix) else { throw error("\(text) does not fit in a 64-bit integer") }
            return value
        }
        let sign = token.first == UInt8(ascii: "-") || token.first == UInt8(ascii: "+") ? token.prefix(1) : []
        guard let digits = Self.digits(token.dropFirst(sign.count), radix: 10) else { return nil }
        guard digits.count == 1 || digits.first != "0" else { throw error("\(text): leading zeros are not allowed") }
        guard let value = Int(String(decoding: sign, as: UTF8.self) + digits) else {
            throw error("\(text) does not fit in a 64-bit integer")
        }
        return value
    }

    // float = float-int-part ( exp / frac [ exp ] )
    // float-int-part = dec-int
    // frac = "." zero-prefixable-int
    // zero-prefixable-int = DIGIT *( DIGIT / underscore DIGIT )
    // exp = "e" float-exp-part ; float-exp-part = [ minus / plus ] zero-prefixable-int
    private static func float(_ token: ArraySlice<UInt8>) -> Double? {
        var rest = token
        var text = ""
        if let sign = rest.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
            text.append(Character(Unicode.Scalar(sign)))
            rest = rest.dropFirst()
        }
        let isExponent = { (byte: UInt8) in byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") }
        let integerPart = rest.prefix { $0 != .dot && !isExponent($0) }
        guard let integer = digits(integerPart, radix: 10), integer.count == 1 || integer.first != "0" else { return nil }
        text += integer
        rest = rest.dropFirst(integerPart.count)
        guard !rest.isEmpty else { return nil }
        if rest.first == .dot {
            let fraction = rest.dropFirst().prefix { !isExponent($0) }
            guard let digits = digits(fraction, radix: 10) else { return nil }
            text += "." + digits
            rest = rest.dropFirst(1 + fraction.count)
        }
        if let first = rest.first, isExponent(first) {
            rest = rest.dropFirst()
            text += "e"
            if let sign = rest.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
                text.append(Character(Unicode.Scalar(sign)))
                rest = rest.dropFirst()
            }
            guard let digits = digits(rest, radix: 10) else { return nil }
            text += digits
            rest = []
        }
        return rest.isEmpty ? Double(text) : nil
    }

    /// `DIGIT *( DIGIT / "_" DIGIT )` in the radix: the digits without underscores,
    /// or nil. TOML 1.0 §Integer: "each underscore must be surrounded by at least
    /// one digit on each side".
    private static func digits(_ token: ArraySlice<UInt8>, radix: UInt8) -> String? {
        guard let first = token.first, let last = token.last, first != UInt8(ascii: "_"), last != UInt8(ascii: "_") else { return nil }
        var text = ""
        var previous: UInt8 = 0
        for byte in token {
            if byte == UInt8(ascii: "_") {
                guard previous != UInt8(ascii: "_") else { return nil }
            } else {
                guard let digit = digitValue(byte), digit < radix else { return nil }
                text.append(Character(Unicode.Scalar(byte)))
            }
            previous = byte
        }
        return text
    }

    /// 0-9, a-f, A-F as their value.
    static func digitValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
