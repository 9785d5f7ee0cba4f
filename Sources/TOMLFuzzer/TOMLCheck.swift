import TOML

/// One fuzz case for the configuration reader: any bytes, no crash, and
///
/// - every line it names (a value's, a table's or an error's) lies in the document;
/// - a document it accepts, written out again as TOML (every table inline, every
///   key quoted), reads back as the same tree;
/// - a document without CR reads the same with CRLF line ends: same tree and
///   lines, or an error on the same line.
enum TOMLCheck {
    static func run(_ input: [UInt8]) {
        let lines = input.reduce(1) { $0 + ($1 == 10 ? 1 : 0) }
        let result = parse(input)
        switch result {
        case .success(let table):
            let root = TOMLValue(.table(table), line: 0)
            for line in lineList(root).dropFirst() {
                precondition((1...lines).contains(line), "a value on line \(line) of \(lines)")
            }
            // Written out, arrays and tables nest as deep as in the tree: beyond the
            // reader's limit the text would be refused for that alone.
            if depth(root) <= TOMLParser.maximumDepth + 1 {
                let text = write(table)
                guard case .success(let again) = parse(Array(text.utf8)) else {
                    preconditionFailure("what was read, written out, is refused:\n\(text)")
                }
                precondition(same(root.kind, .table(again)), "what was read, written out, reads differently:\n\(text)")
            }
        case .failure(let error):
            precondition((1...lines).contains(error.line), "an error on line \(error.line) of \(lines)")
        }
        guard !input.contains(13) else { return }
        let crlf = input.flatMap { $0 == 10 ? [13, 10] : [$0] }
        switch (result, parse(crlf)) {
        case (.success(let table), .success(let other)):
            let (root, otherRoot) = (TOMLValue(.table(table), line: 0), TOMLValue(.table(other), line: 0))
            precondition(same(root.kind, otherRoot.kind) && lineList(root) == lineList(otherRoot), "CRLF reads differently")
        case (.failure(let error), .failure(let other)):
            precondition(error.line == other.line, "CRLF: an error on line \(other.line), not \(error.line)")
        default:
            preconditionFailure("CRLF line ends change whether the document is accepted")
        }
    }

    static func parse(_ bytes: [UInt8]) -> Result<TOMLTable, TOMLSyntaxError> {
        Result { () throws(TOMLSyntaxError) in try TOMLParser.parse(bytes) }
    }

    /// Every line number of the tree, in order.
    static func lineList(_ value: TOMLValue) -> [Int] {
        switch value.kind {
        case .array(let items): return [value.line] + items.flatMap(lineList)
        case .table(let table): return [value.line] + table.entries.flatMap { lineList($0.value) }
        default: return [value.line]
        }
    }

    /// Arrays and tables inside each other, the value itself included.
    static func depth(_ value: TOMLValue) -> Int {
        switch value.kind {
        case .array(let items): return 1 + (items.map(depth).max() ?? 0)
        case .table(let table): return 1 + (table.entries.map { depth($0.value) }.max() ?? 0)
        default: return 0
        }
    }

    /// The same content, lines aside; NaN equals NaN, 0.0 differs from -0.0.
    static func same(_ a: TOMLValue.Kind, _ b: TOMLValue.Kind) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x == y
        case (.integer(let x), .integer(let y)): return x == y
        case (.float(let x), .float(let y)): return x.isNaN ? y.isNaN : x.bitPattern == y.bitPattern
        case (.boolean(let x), .boolean(let y)): return x == y
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0.kind, $1.kind) }
        case (.table(let x), .table(let y)):
            return x.entries.count == y.entries.count
                && zip(x.entries, y.entries).allSatisfy { $0.key == $1.key && same($0.value.kind, $1.value.kind) }
        default: return false
        }
    }

    /// The tree as TOML: one `"key" = value` line per root key, the rest inline.
    static func write(_ table: TOMLTable) -> String {
        table.entries.map { TOMLKey.quoted($0.key) + " = " + write($0.value) + "\n" }.joined()
    }

    static func write(_ value: TOMLValue) -> String {
        switch value.kind {
        case .string(let text): return TOMLKey.quoted(text)
        case .integer(let number): return String(number)
        case .float(let number): return number.isNaN ? "nan" : number.isInfinite ? (number < 0 ? "-inf" : "inf") : "\(number)"
        case .boolean(let flag): return String(flag)
        case .array(let items): return "[" + items.map(write).joined(separator: ", ") + "]"
        case .table(let table): return "{" + table.entries.map { TOMLKey.quoted($0.key) + " = " + write($0.value) }.joined(separator: ", ") + "}"
        }
    }
}
