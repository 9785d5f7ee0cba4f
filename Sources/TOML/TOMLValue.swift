/// One value of a TOML document and the line it starts on, so that a program
/// reading it can say `file:line: key: problem` about it.
///
/// TOML 1.0 (https://toml.io/en/v1.0.0) §String, §Integer, §Float, §Boolean,
/// §Array, §Table. Dates and times (§Offset Date-Time, §Local Date-Time, §Local
/// Date, §Local Time) are refused by the parser: no Veil setting is one. An array
/// of tables (§Array of Tables) is an `.array` of `.table`s, whether it was
/// written as `[[name]]` blocks or as an array of inline tables.
public struct TOMLValue: Sendable {
    public enum Kind: Sendable {
        case string(String)
        /// TOML 1.0 §Integer: 64-bit signed; larger values are refused, not rounded.
        case integer(Int)
        case float(Double)
        case boolean(Bool)
        case array([TOMLValue])
        case table(TOMLTable)
    }

    public var kind: Kind
    /// The 1-based line where the value starts; for a table, the line of its
    /// `[header]`, of the dotted key that made it, or of its `{`.
    public var line: Int

    public init(_ kind: Kind, line: Int) {
        self.kind = kind
        self.line = line
    }

    /// For messages: "must be a string, not an integer".
    public var typeName: String {
        switch kind {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a float"
        case .boolean: return "a boolean"
        case .array: return "an array"
        case .table: return "a table"
        }
    }
}
