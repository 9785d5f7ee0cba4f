import Foundation
import SMTPCore

/// The users file: one line per user, `user:HASH` or `user:HASH:domain,domain`,
/// where HASH is a crypt(3) hash of a strong scheme and the domains are the sender
/// domains the user may use (`*.example.com` for subdomains; none listed = any).
public struct UsersFile: Sendable {
    public struct User: Sendable {
        public var name: String
        public var hash: String
        public var allowedDomains: [String]?
    }

    /// yescrypt, SHA-512 crypt and bcrypt; DES, MD5 and SHA-256 crypt are too weak.
    static let acceptedPrefixes = ["$y$", "$6$", "$2b$"]

    public let users: [String: User]

    /// `configLine` is the line of `users_file` in the config, for "cannot be read".
    public static func load(path: String, configFile: String, configLine: Int?) throws(ConfigError) -> UsersFile {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: configFile, line: configLine, key: "auth.users_file", problem: "\(path) cannot be read")
        }
        var users: [String: User] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let problem = { (what: String) in ConfigError(file: path, line: index + 1, key: "user", problem: what) }
            if line.allSatisfy(\.isWhitespace) || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard (2...3).contains(fields.count), !fields[0].isEmpty else {
                throw problem("expected user:hash or user:hash:domain,domain")
            }
            let name = String(fields[0])
            let hash = String(fields[1])
            guard acceptedPrefixes.contains(where: hash.hasPrefix) else {
                throw problem("\(name): the hash must be yescrypt ($y$), SHA-512 ($6$) or bcrypt ($2b$); make one with `veil passwd`")
            }
            guard users[name] == nil else { throw problem("\(name): listed twice") }
            var domains: [String]?
            if fields.count == 3 {
                domains = fields[2].split(separator: ",").map { $0.trimmingCharacters(in: " ").lowercased() }
                    .filter { !$0.isEmpty }
                if domains!.isEmpty { domains = nil }
            }
            users[name] = User(name: name, hash: hash, allowedDomains: domains)
        }
        return UsersFile(users: users)
    }
}
