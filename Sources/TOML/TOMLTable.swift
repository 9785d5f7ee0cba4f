/// A TOML table (TOML 1.0 §Table): its key/value pairs in the order of the file,
/// and the line that opened it.
public struct TOMLTable: Sendable {
    public private(set) var entries: [(key: String, value: TOMLValue)] = []
    private var positions: [String: Int] = [:]
    /// The line of the table's `[header]` (or dotted key, or `{`); 0 for the root.
    public var line: Int

    public init(line: Int) {
        self.line = line
    }

    public subscript(key: String) -> TOMLValue? {
        positions[key].map { entries[$0].value }
    }

    /// Adds a key; the parser has already refused duplicates.
    mutating func append(_ key: String, _ value: TOMLValue) {
        positions[key] = entries.count
        entries.append((key, value))
    }
}
