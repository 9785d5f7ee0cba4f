/// A configuration problem, printed as `file:line: key: problem` (the line is left
/// out when the problem is about something missing from the whole file).
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?
    public var key: String
    public var problem: String

    public var description: String {
        "\(file):\(line.map(String.init) ?? "0"): \(key): \(problem)"
    }
}
