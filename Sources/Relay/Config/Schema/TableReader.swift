import Foundation
import TOML

/// Reads typed values out of one TOML table and remembers which keys were used, so
/// that the rest can be reported as unknown. Every reading method returns nil when
/// the key is not in the table (the default stays), and throws `file:line: key:
/// problem` when its value is not what the key takes.
struct TableReader {
    let file: String
    let table: TOMLTable
    /// The table's path as the file writes it, with a trailing dot (`limits.`);
    /// empty for the root.
    let prefix: String
    /// Relative paths are relative to this folder (the config file's).
    let baseDirectory: String
    private(set) var used: Set<String> = []

    init(file: String, table: TOMLTable, prefix: String, baseDirectory: String) {
        self.file = file
        self.table = table
        self.prefix = prefix
        self.baseDirectory = baseDirectory
    }

    /// A problem with `key`, at the line of its value (or of the table, when the
    /// key is missing). Keys are printed as the file would write them.
    func error(_ key: String, _ problem: String, line: Int? = nil) -> ConfigError {
        ConfigError(file: file, line: line ?? table[key]?.line ?? table.line, key: prefix + TOMLKey.display(key), problem: problem)
    }

    mutating func raw(_ key: String) -> TOMLValue? {
        used.insert(key)
        return table[key]
    }

    func rejectUnknownKeys() throws(ConfigError) {
        for (key, entry) in table.entries where !used.contains(key) {
            throw error(key, "unknown key", line: entry.line)
        }
    }

    // MARK: Scalars

    mutating func string(_ key: String) throws(ConfigError) -> String? {
        guard let entry = raw(key) else { return nil }
        guard case .string(let value) = entry.kind else { throw error(key, "must be a string, not \(entry.typeName)") }
        return value
    }

    /// A file or directory path; relative ones are relative to the config file's
    /// folder. An empty string means "not set".
    mutating func path(_ key: String) throws(ConfigError) -> String? {
        guard let value = try string(key), !value.isEmpty else { return nil }
        return ((value.hasPrefix("/") ? value : baseDirectory + "/" + value) as NSString).standardizingPath
    }

    mutating func integer(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let entry = raw(key) else { return nil }
        guard case .integer(let number) = entry.kind else { throw error(key, "must be an integer, not \(entry.typeName)") }
        guard range.contains(number) else { throw error(key, "must be between \(range.lowerBound) and \(range.upperBound)") }
        return number
    }

    mutating func boolean(_ key: String) throws(ConfigError) -> Bool? {
        guard let entry = raw(key) else { return nil }
        guard case .boolean(let flag) = entry.kind else { throw error(key, "must be true or false, not \(entry.typeName)") }
        return flag
    }

    mutating func choice<Choice: RawRepresentable & CaseIterable>(_ key: String) throws(ConfigError) -> Choice?
    where Choice.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let choice = Choice(rawValue: text) else {
            throw error(key, "must be one of \(Choice.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), not \"\(text)\"")
        }
        return choice
    }

    /// Seconds, written `"30s"`, `"5m"`, `"2h"` or `"5d"`.
    mutating func duration(_ key: String) throws(ConfigError) -> Int? {
        guard let text = try string(key) else { return nil }
        guard let seconds = parseDuration(text) else { throw error(key, "\"\(text)\" is not a duration (e.g. \"30s\", \"5m\", \"2h\", \"5d\")") }
        return seconds
    }

    /// Bytes, written as a number or as `"256KB"`, `"50MB"`.
    mutating func size(_ key: String) throws(ConfigError) -> Int? {
        guard let entry = raw(key) else { return nil }
        switch entry.kind {
        case .integer(let number) where number >= 0:
            return number
        case .string(let text):
            guard let bytes = parseSize(text) else { throw error(key, "\"\(text)\" is not a size (e.g. \"256KB\", \"50MB\")") }
            return bytes
        default:
            throw error(key, "must be a size such as \"50MB\"")
        }
    }

    /// `IPv4:port` or `[IPv6]:port` (``ListenAddress``).
    mutating func address(_ key: String) throws(ConfigError) -> ListenAddress? {
        guard let text = try string(key) else { return nil }
        guard let address = ListenAddress(text) else { throw error(key, "\"\(text)\" is not IPv4:port or [IPv6]:port") }
        return address
    }

    /// `[host]:port`, `host:port` or `[host]` (port 25); empty: nil.
    mutating func hop(_ key: String) throws(ConfigError) -> Configuration.Delivery.Hop? {
        guard let text = try string(key), !text.isEmpty else { return nil }
        var host = text
        var port = 25
        if let colon = text.lastIndex(of: ":"), !text.hasSuffix("]"), let number = Int(text[text.index(after: colon)...]) {
            host = String(text[..<colon])
            port = number
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(" "), (1...65535).contains(port) else {
            throw error(key, "\"\(text)\" is not [host]:port")
        }
        return .init(host: host, port: port)
    }

    // MARK: Arrays

    /// The strings of an array with their lines, for errors about one of them.
    mutating func stringItems(_ key: String) throws(ConfigError) -> [(text: String, line: Int)]? {
        guard let entry = raw(key) else { return nil }
        guard case .array(let items) = entry.kind else { throw error(key, "must be an array of strings, not \(entry.typeName)") }
        var strings: [(text: String, line: Int)] = []
        for item in items {
            guard case .string(let text) = item.kind else { throw error(key, "must be an array of strings, not one with \(item.typeName)", line: item.line) }
            strings.append((text, item.line))
        }
        return strings
    }

    // MARK: Tables

    /// The reader of `[key]`; an empty table (at this table's line) when there is none.
    mutating func subtable(_ key: String) throws(ConfigError) -> TableReader {
        if let entry = raw(key) {
            guard case .table = entry.kind else { throw error(key, "must be a table ([\(key)]), not \(entry.typeName)") }
        }
        return child(key)
    }

    /// The reader of `[key]` without marking it used, for errors about its keys
    /// found after it was read.
    func child(_ key: String) -> TableReader {
        guard case .table(let child)? = table[key]?.kind else {
            return TableReader(file: file, table: TOMLTable(line: table.line), prefix: prefix + TOMLKey.display(key) + ".",
                               baseDirectory: baseDirectory)
        }
        return TableReader(file: file, table: child, prefix: prefix + TOMLKey.display(key) + ".", baseDirectory: baseDirectory)
    }

    /// `[[key]]` blocks, or an array of inline tables: the same to TOML 1.0.
    mutating func tables(_ key: String) throws(ConfigError) -> [TableReader] {
        guard let entry = raw(key) else { return [] }
        guard case .array(let items) = entry.kind else { throw error(key, "must be an array of tables ([[\(key)]]), not \(entry.typeName)") }
        var readers: [TableReader] = []
        for item in items {
            guard case .table(let child) = item.kind else {
                throw error(key, "must be an array of tables ([[\(key)]]), not one with \(item.typeName)", line: item.line)
            }
            readers.append(TableReader(file: file, table: child, prefix: prefix + TOMLKey.display(key) + ".", baseDirectory: baseDirectory))
        }
        return readers
    }
}
