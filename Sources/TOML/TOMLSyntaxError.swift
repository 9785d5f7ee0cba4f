/// A document that is not TOML 1.0, or that Veil's reader refuses (dates, integers
/// beyond 64 bits, nesting deeper than `TOMLParser.maximumDepth`).
public struct TOMLSyntaxError: Error, Sendable, CustomStringConvertible {
    /// 1-based line of the problem.
    public var line: Int
    /// The key the problem is about, written as in the file (`limits.max_recipients`,
    /// `scrub."odd key"`), when the problem is inside a key/value pair or a header.
    public var key: String?
    public var message: String

    public init(line: Int, key: String?, message: String) {
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        "\(line): \(key.map { $0 + ": " } ?? "")\(message)"
    }
}
