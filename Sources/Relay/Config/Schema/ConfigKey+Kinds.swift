import Connections
import TOML

/// The kinds of value a key can take: each factory reads and checks one kind
/// (``TableReader``) and prints it the way `veil check-config` always has, so that
/// its output reads back to the same configuration. Every key is applied by a
/// reload unless it says `reload: .needsRestart`.
extension ConfigKey {
    /// A whole number within `range`.
    static func integer(_ name: String, _ keyPath: WritableKeyPath<Section, Int> & Sendable, in range: ClosedRange<Int>,
                        reload: ReloadBehaviour = .applied, doc: String) -> Self {
        Self(name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in try reader.integer(name, in: range) },
             write: { "\($0)" })
    }

    /// Bytes: a number, or `"256KB"`, `"50MB"`, `"1GB"`; printed as a number.
    static func size(_ name: String, _ keyPath: WritableKeyPath<Section, Int> & Sendable,
                     reload: ReloadBehaviour = .applied, doc: String) -> Self {
        Self(name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in try reader.size(name) },
             write: { "\($0)" })
    }

    /// Seconds: `"30s"`, `"5m"`, `"2h"`, `"5d"`; printed in seconds.
    static func duration(_ name: String, _ keyPath: WritableKeyPath<Section, Int> & Sendable,
                         reload: ReloadBehaviour = .applied, doc: String) -> Self {
        Self(name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in try reader.duration(name) },
             write: { "\"\($0)s\"" })
    }

    static func boolean(_ name: String, _ keyPath: WritableKeyPath<Section, Bool> & Sendable,
                        reload: ReloadBehaviour = .applied, doc: String) -> Self {
        Self(name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in try reader.boolean(name) },
             write: { "\($0)" })
    }

    /// One of an enumeration's raw values (`"starttls"`).
    static func choice<Choice: RawRepresentable & CaseIterable & Equatable & Sendable>(
        _ name: String, _ keyPath: WritableKeyPath<Section, Choice> & Sendable, reload: ReloadBehaviour = .applied, doc: String
    ) -> Self where Choice.RawValue == String {
        Self(name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in try reader.choice(name) },
             write: { TOMLKey.quoted($0.rawValue) })
    }

    /// The same, nil when left out.
    static func choice<Choice: RawRepresentable & CaseIterable & Equatable & Sendable>(
        _ name: String, _ keyPath: WritableKeyPath<Section, Choice?> & Sendable, reload: ReloadBehaviour = .applied, doc: String
    ) -> Self where Choice.RawValue == String {
        Self(optional: name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in try reader.choice(name) },
             write: { TOMLKey.quoted($0?.rawValue ?? "") })
    }

    /// A string; `check` returns the problem with a value, or nil.
    static func string(_ name: String, _ keyPath: WritableKeyPath<Section, String> & Sendable, reload: ReloadBehaviour = .applied,
                       doc: String, check: @escaping @Sendable (String) -> String? = { _ in nil }) -> Self {
        Self(name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in
            guard let text = try reader.string(name) else { return nil }
            if let problem = check(text) { throw reader.error(name, problem) }
            return text
        }, write: TOMLKey.quoted)
    }

    /// A string that may be left out or empty (nil); `check` returns the problem
    /// with a value that is not empty, or nil.
    static func string(_ name: String, _ keyPath: WritableKeyPath<Section, String?> & Sendable,
                       reload: ReloadBehaviour = .applied, doc: String,
                       check: @escaping @Sendable (String) -> String? = { _ in nil }) -> Self {
        Self(optional: name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in
            guard let text = try reader.string(name), !text.isEmpty else { return nil }
            if let problem = check(text) { throw reader.error(name, problem) }
            return text
        }, write: { TOMLKey.quoted($0 ?? "") })
    }

    /// A path, relative to the config file's folder; empty: the default.
    static func path(_ name: String, _ keyPath: WritableKeyPath<Section, String> & Sendable,
                     reload: ReloadBehaviour = .applied, doc: String) -> Self {
        Self(name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in try reader.path(name) },
             write: TOMLKey.quoted)
    }

    /// A path with a default, which `""` turns off (kept as `""`).
    static func pathOrOff(_ name: String, _ keyPath: WritableKeyPath<Section, String> & Sendable,
                          reload: ReloadBehaviour = .applied, doc: String) -> Self {
        Self(name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in
            guard let text = try reader.string(name) else { return nil }
            return text.isEmpty ? "" : try reader.path(name)
        }, write: TOMLKey.quoted)
    }

    /// A path that may be left out or empty (nil).
    static func path(_ name: String, _ keyPath: WritableKeyPath<Section, String?> & Sendable,
                     reload: ReloadBehaviour = .applied, doc: String) -> Self {
        Self(optional: name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in try reader.path(name) },
             write: { TOMLKey.quoted($0 ?? "") })
    }

    /// An array of strings; `check` returns the problem with one of them, reported
    /// at its own line.
    static func strings(_ name: String, _ keyPath: WritableKeyPath<Section, [String]> & Sendable, reload: ReloadBehaviour = .applied,
                        doc: String, check: @escaping @Sendable (String) -> String? = { _ in nil }) -> Self {
        Self(name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in
            guard let items = try reader.stringItems(name) else { return nil }
            for (text, line) in items {
                if let problem = check(text) { throw reader.error(name, problem, line: line) }
            }
            return items.map(\.text)
        }, write: { list($0.map(TOMLKey.quoted)) })
    }

    /// An array of networks (`"10.0.0.0/8"`). With `refusingEverywhere`, a network
    /// that takes in every IPv4 or every IPv6 address is an error that ends with it.
    static func networks(_ name: String, _ keyPath: WritableKeyPath<Section, [CIDR]> & Sendable, reload: ReloadBehaviour = .applied,
                         doc: String, refusingEverywhere consequence: String? = nil) -> Self {
        Self(name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in
            guard let items = try reader.stringItems(name) else { return nil }
            var networks: [CIDR] = []
            for (text, line) in items {
                guard let network = CIDR(text) else { throw reader.error(name, "\"\(text)\" is not a network such as 10.0.0.0/8", line: line) }
                networks.append(network)
            }
            if let consequence, let everywhere = zip(networks, items).first(where: { $0.0.coversAFamily }) {
                throw reader.error(name, "\"\(everywhere.0)\" takes in every IPv4 or every IPv6 address: it \(consequence)",
                                   line: everywhere.1.line)
            }
            return networks
        }, write: { list($0.map { TOMLKey.quoted($0.description) }) })
    }

    /// An array of at least one duration, each above zero.
    static func durations(_ name: String, _ keyPath: WritableKeyPath<Section, [Int]> & Sendable,
                          reload: ReloadBehaviour = .applied, doc: String) -> Self {
        Self(name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in
            guard let items = try reader.stringItems(name) else { return nil }
            var seconds: [Int] = []
            for (text, line) in items {
                guard let value = parseDuration(text), value > 0 else { throw reader.error(name, "\"\(text)\" is not a duration such as \"5m\"", line: line) }
                seconds.append(value)
            }
            guard !seconds.isEmpty else { throw reader.error(name, "needs at least one duration") }
            return seconds
        }, write: { list($0.map { "\"\($0)s\"" }) })
    }

    /// `IPv4:port` or `[IPv6]:port`.
    static func address(_ name: String, _ keyPath: WritableKeyPath<Section, ListenAddress> & Sendable,
                        reload: ReloadBehaviour = .applied, doc: String) -> Self {
        Self(name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in try reader.address(name) },
             write: { TOMLKey.quoted($0.description) })
    }

    /// The same, nil when left out.
    static func address(_ name: String, _ keyPath: WritableKeyPath<Section, ListenAddress?> & Sendable,
                        reload: ReloadBehaviour = .applied, doc: String) -> Self {
        Self(optional: name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in try reader.address(name) },
             write: { TOMLKey.quoted($0?.description ?? "") })
    }

    /// A next hop, `[host]:port`, `host:port` or `[host]` (port 25); empty: nil.
    static func hop(_ name: String, _ keyPath: WritableKeyPath<Section, Configuration.Delivery.Hop?> & Sendable,
                    reload: ReloadBehaviour = .applied, doc: String) -> Self {
        Self(optional: name, keyPath, reload: reload, doc: doc, read: { reader throws(ConfigError) in try reader.hop(name) },
             write: { TOMLKey.quoted($0?.description ?? "") })
    }

    /// A TOML array of values already written as TOML.
    private static func list(_ items: [String]) -> String {
        "[" + items.joined(separator: ", ") + "]"
    }
}
