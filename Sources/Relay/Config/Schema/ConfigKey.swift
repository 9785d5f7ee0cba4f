import TOML

/// Whether a reload (SIGHUP) puts a changed value in force.
enum ReloadBehaviour: Sendable {
    /// New sessions and the next delivery pass use the new value.
    case applied
    /// The value was used to set something up at start (a socket, the spool, a
    /// thread pool): a change waits for the restart and the reload names the key in
    /// its `reload_incomplete` line.
    case needsRestart
}

/// One key of a configuration table, declared once: its name, how its value is
/// read and checked, how `veil check-config` prints it, whether a reload applies
/// it, and one line of documentation. Its default is the initial value of the
/// property it fills (Configuration.swift).
///
/// The loader (``ConfigSection/read(from:)``), the printer (``ConfigSection/printed(path:)``)
/// and the reload diff (``ConfigSection/changedKeys(to:path:restartOnly:)``) all go
/// through these declarations. They are made by the factories of ConfigKey+Kinds.swift,
/// `.size("max_message_size", \.maximumMessageSize, doc: "...")`, which know the
/// value's type; the key itself is type-erased so that keys of every type share
/// one array per table.
struct ConfigKey<Section>: Sendable {
    /// As the file writes it (`max_message_size`).
    let name: String
    let reload: ReloadBehaviour
    let doc: String
    /// Reads the key out of the table into the section; when the table has no such
    /// key, the section keeps its default.
    let read: @Sendable (inout TableReader, inout Section) throws(ConfigError) -> Void
    /// The section's value of the key as TOML (`"300s"`, `["10.0.0.0/8"]`).
    let value: @Sendable (Section) -> String
    /// True when two sections have different values for the key.
    let differs: @Sendable (Section, Section) -> Bool

    /// A key that fills `keyPath`: `read` returns the value found in the table (nil:
    /// no such key) or throws its problem, `write` gives it back as TOML.
    init<Value: Equatable & Sendable>(
        _ name: String, _ keyPath: WritableKeyPath<Section, Value> & Sendable, reload: ReloadBehaviour, doc: String,
        read: @escaping @Sendable (inout TableReader) throws(ConfigError) -> Value?,
        write: @escaping @Sendable (Value) -> String
    ) {
        self.name = name
        self.reload = reload
        self.doc = doc
        self.read = { reader, section throws(ConfigError) in
            if let value = try read(&reader) { section[keyPath: keyPath] = value }
        }
        self.value = { write($0[keyPath: keyPath]) }
        self.differs = { $0[keyPath: keyPath] != $1[keyPath: keyPath] }
    }

    /// A key that may hold no value (`String?`, `Hop?`): `read` returns the value
    /// in the table, nil when it says there is none (an empty string). When the
    /// table has no such key, the section keeps its default.
    init<Wrapped: Equatable & Sendable>(
        optional name: String, _ keyPath: WritableKeyPath<Section, Wrapped?> & Sendable, reload: ReloadBehaviour, doc: String,
        read: @escaping @Sendable (inout TableReader) throws(ConfigError) -> Wrapped?,
        write: @escaping @Sendable (Wrapped?) -> String
    ) {
        self.init(name: name, reload: reload, doc: doc, read: { reader, section throws(ConfigError) in
            guard reader.table[name] != nil else { return }
            section[keyPath: keyPath] = try read(&reader)
        }, value: { write($0[keyPath: keyPath]) }, differs: { $0[keyPath: keyPath] != $1[keyPath: keyPath] })
    }

    private init(name: String, reload: ReloadBehaviour, doc: String,
                 read: @escaping @Sendable (inout TableReader, inout Section) throws(ConfigError) -> Void,
                 value: @escaping @Sendable (Section) -> String, differs: @escaping @Sendable (Section, Section) -> Bool) {
        (self.name, self.reload, self.doc) = (name, reload, doc)
        (self.read, self.value, self.differs) = (read, value, differs)
    }

    /// The same key, also noting the line of its value in `lineKeyPath` (nil when
    /// the file does not have it), for problems found after loading, such as a
    /// certificate that cannot be read.
    func recordingLine(in lineKeyPath: WritableKeyPath<Section, Int?> & Sendable) -> ConfigKey {
        let (name, read) = (name, self.read)
        return ConfigKey(name: name, reload: reload, doc: doc, read: { reader, section throws(ConfigError) in
            try read(&reader, &section)
            section[keyPath: lineKeyPath] = reader.table[name]?.line
        }, value: value, differs: differs)
    }

    /// `name = value`, a line of `veil check-config`'s output.
    func line(of section: Section) -> String {
        "\(TOMLKey.display(name)) = \(value(section))"
    }
}
