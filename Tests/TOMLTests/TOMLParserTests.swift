import Testing
import TOML

@Suite struct TOMLParserTests {
    func parse(_ text: String) throws(TOMLSyntaxError) -> TOMLTable {
        try TOMLParser.parse(text)
    }

    func error(_ text: String) -> TOMLSyntaxError? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    /// The value at a dotted path of plain keys (arrays by index).
    func value(_ table: TOMLTable, _ path: String) -> TOMLValue? {
        var current = TOMLValue(.table(table), line: 0)
        for part in path.split(separator: ".") {
            switch current.kind {
            case .table(let table): guard let next = table[String(part)] else { return nil }; current = next
            case .array(let items): guard let index = Int(part), items.indices.contains(index) else { return nil }; current = items[index]
            default: return nil
            }
        }
        return current
    }

    func string(_ table: TOMLTable, _ path: String) -> String? {
        guard case .string(let text)? = value(table, path)?.kind else { return nil }
        return text
    }

    func integer(_ table: TOMLTable, _ path: String) -> Int? {
        guard case .integer(let number)? = value(table, path)?.kind else { return nil }
        return number
    }

    func float(_ table: TOMLTable, _ path: String) -> Double? {
        guard case .float(let number)? = value(table, path)?.kind else { return nil }
        return number
    }

    // MARK: Accepted

    @Test func commentsInsideMultiLineArraysKeepEachValuesLine() throws {
        let table = try parse("""
            # networks
            relay_networks = [   # opening comment
              "10.0.0.0/8",      # office

              # a whole comment line
              "192.168.0.0/16",
            ]
            after = 1
            """)
        #expect(value(table, "relay_networks")?.line == 2)
        #expect(value(table, "relay_networks.0")?.line == 3)
        #expect(value(table, "relay_networks.1")?.line == 6)
        #expect(string(table, "relay_networks.1") == "192.168.0.0/16")
        #expect(value(table, "after")?.line == 8)
    }

    @Test func tablesInAnyOrderAndImplicitParents() throws {
        let table = try parse("""
            [delivery.domain.x]
            tls = "verify"
            [limits]
            max_recipients = 5
            [delivery]
            mode = "mx"
            """)
        #expect(string(table, "delivery.domain.x.tls") == "verify")
        #expect(string(table, "delivery.mode") == "mx")
        #expect(value(table, "delivery")?.line == 5)
        #expect(table.entries.map(\.key) == ["delivery", "limits"])
    }

    @Test func dottedQuotedKeysAndInlineTables() throws {
        let table = try parse("""
            log.level = "debug"
            "quoted key" = 1
            'literal.key' = 2
            "" = 3
            "\\u00e9" = 4
            site."example.com" = true
            limits = { max_recipients = 7, nested.deep = [1, { a = "b" }] }
            """)
        #expect(string(table, "log.level") == "debug")
        #expect(integer(table, "quoted key") == 1)
        #expect(table["literal.key"] != nil)
        #expect(table[""]?.line == 4)
        #expect(table["é"] != nil)
        guard case .table(let site)? = table["site"]?.kind else { Issue.record("site"); return }
        #expect(site["example.com"] != nil)
        #expect(integer(table, "limits.max_recipients") == 7)
        #expect(string(table, "limits.nested.deep.1.a") == "b")
        #expect(value(table, "limits")?.line == 7)
    }

    @Test func arraysOfTablesBothWays() throws {
        let table = try parse("""
            [[listener]]
            name = "a"
            [listener.sub]
            x = 1
            [[listener]]
            name = "b"
            inline = [ { name = "c" }, { name = "d" } ]
            """)
        #expect(string(table, "listener.0.name") == "a")
        #expect(integer(table, "listener.0.sub.x") == 1)
        #expect(string(table, "listener.1.name") == "b")
        #expect(value(table, "listener.1")?.line == 5)
        #expect(string(table, "listener.1.inline.1.name") == "d")
    }

    @Test func everyStringForm() throws {
        let table = try parse(#"""
            basic = "tab\t quote\" backslash\\ \b\f\n\r \u00E9 \U0001F600"
            literal = 'C:\Users\x'
            multi = """
            one
            two"""
            folded = """\
                   The quick \
                   brown fox."""
            quotes = """""a"""""
            raw = '''
            no \escapes here'''
            """#)
        #expect(string(table, "basic") == "tab\t quote\" backslash\\ \u{8}\u{C}\n\r é 😀")
        #expect(string(table, "literal") == #"C:\Users\x"#)
        #expect(string(table, "multi") == "one\ntwo")
        #expect(string(table, "folded") == "The quick brown fox.")
        #expect(string(table, "quotes") == #"""a"""#)
        #expect(string(table, "raw") == #"no \escapes here"#)
        #expect(value(table, "folded")?.line == 6)
        #expect(value(table, "quotes")?.line == 9)
    }

    @Test func numbersAndBooleans() throws {
        let table = try parse("""
            a = +99
            b = -17
            c = 1_000_000
            d = 0xDEAD_beef
            e = 0o755
            f = 0b1101
            g = 9223372036854775807
            h = -9223372036854775808
            i = 6.626e-34
            j = -0.0
            k = 1e400
            l = -inf
            m = nan
            n = true
            o = 224_617.445_991
            """)
        #expect(integer(table, "a") == 99)
        #expect(integer(table, "b") == -17)
        #expect(integer(table, "c") == 1_000_000)
        #expect(integer(table, "d") == 0xDEADBEEF)
        #expect(integer(table, "e") == 0o755)
        #expect(integer(table, "f") == 13)
        #expect(integer(table, "g") == Int.max)
        #expect(integer(table, "h") == Int.min)
        #expect(float(table, "i") == 6.626e-34)
        #expect(float(table, "j")?.sign == .minus)
        #expect(float(table, "k") == .infinity)
        #expect(float(table, "l") == -.infinity)
        #expect(float(table, "m")?.isNaN == true)
        #expect(float(table, "o") == 224_617.445_991)
        guard case .boolean(true)? = value(table, "n")?.kind else { Issue.record("n"); return }
    }

    @Test func crlfTrailingBlanksAndNoFinalNewline() throws {
        let table = try parse("a = 1 \t\r\n\r\n[t] # c\r\n  b = \"\"\"x\r\ny\"\"\"\t\r\nc = 2")
        #expect(integer(table, "a") == 1)
        #expect(string(table, "t.b") == "x\ny")
        #expect(value(table, "t.c")?.line == 6)
    }

    // MARK: Refused, with the line and the key

    @Test func redefinitionsAreErrors() {
        let cases: [(String, Int, String?, String)] = [
            ("a = 1\n\na = 2\n", 3, "a", "defined twice (first on line 1)"),
            ("[limits]\nmax = 1\nmax = 2\n", 3, "limits.max", "defined twice"),
            ("[limits]\nx = 1\n[limits]\n", 3, "limits", "already defined as a table on line 1"),
            ("[a]\nb.c = 1\n[a.b]\n", 3, "a.b", "already defined by dotted keys on line 2"),
            ("a = {b = 1}\na.c = 2\n", 2, "a", "inline table (line 1) cannot be extended"),
            ("a = {}\n[a.b]\n", 2, "a", "inline table"),
            ("t = {a = 1, a = 2}\n", 1, "t.a", "defined twice"),
            ("a = []\n[[a]]\n", 2, "a", "already defined as an array"),
            ("[a]\n[[a]]\n", 2, "a", "already defined as a table"),
            ("[[a]]\n[a]\n", 2, "a", "already an array of tables"),
            ("[a.b.c]\n[a]\nb.c.d = 1\n", 3, "a.b.c", "cannot be extended with dotted keys"),
            ("[[a]]\n[b]\n[a.c]\nx = 1\n[a.c]\n", 5, "a.c", "already defined as a table on line 3"),
            ("x = 1\nx.y = 2\n", 2, "x", "is an integer (line 1), not a table"),
        ]
        for (text, line, key, message) in cases {
            let problem = error(text)
            #expect(problem?.line == line, "\(text)")
            #expect(problem?.key == key, "\(text)")
            #expect(problem?.message.contains(message) == true, "\(text): \(String(describing: problem))")
        }
    }

    @Test func syntaxErrorsNameTheirLine() {
        let cases: [(String, Int, String)] = [
            ("a = [\n  1,\n  2\n  3,\n]\n", 4, "expected ',' or ']' in the array opened on line 1"),
            ("a = [\n  1,\n", 3, "the array opened on line 1 is not closed"),
            ("ok = 1\ns = \"open\nt = 2\n", 2, "not closed on its line"),
            ("s = \"\"\"\nnever\nclosed\n", 4, "opened on line 1 is not closed"),
            ("t = {a = 1,}\n", 1, "no ',' after the last key"),
            ("t = {a = 1,\n b = 2}\n", 1, "closed on the line where it starts"),
            ("a = 01\n", 1, "leading zeros"),
            ("a = 1__0\n", 1, "is not a TOML value"),
            ("a = 0X1F\n", 1, "is not a TOML value"),
            ("a = 9223372036854775808\n", 1, "does not fit in a 64-bit integer"),
            ("a = 0x8000000000000000\n", 1, "does not fit in a 64-bit integer"),
            ("a = yes\n", 1, "strings need quotes"),
            ("a = \"\\e\"\n", 1, "is not an escape"),
            ("a = \"\\uD800\"\n", 1, "not a Unicode scalar value"),
            ("a = \"x\u{1}y\"\n", 1, "control character U+0001"),
            ("a = 1 # \u{7F}\n", 1, "control character U+007F in a comment"),
            ("a = 1\rb = 2\n", 1, "carriage return must be followed by a line feed"),
            ("a = 1 b = 2\n", 1, "unexpected text after the value"),
            ("a = 1979-05-27\n", 1, "dates and times are not supported"),
            ("\n\n[a\n", 3, "expected ']'"),
            ("\u{FEFF}a = 1\n", 1, "byte order mark"),
            ("a = " + String(repeating: "[", count: 40) + "\n", 1, "nested more than 32 deep"),
            (String(repeating: "a.", count: 40) + "b = 1\n", 1, "more than 32 parts"),
        ]
        for (text, line, message) in cases {
            let problem = error(text)
            #expect(problem?.line == line, "\(text)")
            #expect(problem?.message.contains(message) == true, "\(text): \(String(describing: problem))")
        }
        #expect(error("ok = 1\n[t]\nx = [1,\n  \"a\" \"b\"]\n")?.key == "t.x")
    }

    @Test func invalidUTF8NamesItsLine() throws {
        do {
            _ = try TOMLParser.parse(Array("a = 1\nb = \"".utf8) + [0xFF, 0x22, 0x0A])
            Issue.record("accepted")
        } catch {
            #expect(error.line == 2)
            #expect(error.message == "not valid UTF-8")
        }
    }

    @Test func keysAreDisplayedAsTOMLWritesThem() {
        #expect(TOMLKey.display(["limits", "max_recipients"]) == "limits.max_recipients")
        #expect(TOMLKey.display(["scrub", "odd key", "a.b", ""]) == #"scrub."odd key"."a.b"."""#)
        #expect(TOMLKey.quoted("q\"\\\n\u{1}") == #""q\"\\\n\u0001""#)
    }
}
