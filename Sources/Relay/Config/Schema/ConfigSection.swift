/// A table of the configuration file and the struct it fills (``Configuration``
/// itself for the root): its keys and the tables inside it, declared once, in
/// Config/Keys. Reading, printing and comparing walk these declarations, so a key
/// added there is loaded, checked, printed by `veil check-config` and compared on
/// reload with nothing else to write.
protocol ConfigSection: Sendable {
    /// Every value at its default.
    init()
    /// The table's own keys, in the order `veil check-config` prints them.
    static var keys: [ConfigKey<Self>] { get }
    /// Tables and arrays of tables inside this one, printed after its keys in this order.
    static var children: [ConfigChild<Self>] { get }
    /// Once every key and child is read: the checks that involve more than one key,
    /// and the defaults that depend on another key. `reader` names the lines.
    static func finish(_ section: inout Self, _ reader: TableReader) throws(ConfigError)
    /// Comment lines `veil check-config` prints after the keys.
    func comments() -> [String]
}

extension ConfigSection {
    static var children: [ConfigChild<Self>] { [] }
    static func finish(_ section: inout Self, _ reader: TableReader) throws(ConfigError) {}
    func comments() -> [String] { [] }

    /// Reads the table: its keys, its children, the checks of ``finish(_:_:)``;
    /// any key left over is an error.
    static func read(from reader: inout TableReader) throws(ConfigError) -> Self {
        var section = Self()
        for key in keys { try key.read(&reader, &section) }
        for child in children { try child.read(&reader, &section) }
        try finish(&section, reader)
        try reader.rejectUnknownKeys()
        return section
    }

    /// The lines `veil check-config` prints for this table (its header excepted):
    /// `key = value` for every key, then its comments and children.
    func printed(path: String) -> [String] {
        Self.keys.map { $0.line(of: self) } + comments() + Self.children.flatMap { $0.printed(self, path) }
    }

    /// The keys whose values differ in `new`, by their paths (`limits.max_connections`);
    /// with `restartOnly`, only those a reload cannot apply.
    func changedKeys(to new: Self, path: String, restartOnly: Bool) -> [String] {
        Self.keys.filter { (!restartOnly || $0.reload == .needsRestart) && $0.differs(self, new) }.map { joinedPath(path, $0.name) }
            + Self.children.flatMap { $0.changedKeys(self, new, path, restartOnly) }
    }

    /// The paths of every key this table and its children declare.
    static func keyPaths(path: String) -> [String] {
        keys.map { joinedPath(path, $0.name) } + children.flatMap { $0.keyPaths(path) }
    }
}

/// `limits` + `max_errors` = `limits.max_errors`; root keys stay bare.
func joinedPath(_ path: String, _ name: String) -> String {
    path.isEmpty ? name : path + "." + name
}

/// A `[table]` or `[[array of tables]]` inside a section, and the member it fills.
struct ConfigChild<Parent>: Sendable {
    let name: String
    let read: @Sendable (inout TableReader, inout Parent) throws(ConfigError) -> Void
    let printed: @Sendable (Parent, _ path: String) -> [String]
    let changedKeys: @Sendable (Parent, Parent, _ path: String, _ restartOnly: Bool) -> [String]
    let keyPaths: @Sendable (_ path: String) -> [String]

    /// `[name]`, read into `keyPath`; printed only when `printedWhen` says so (an
    /// unset `[metrics]` is left out).
    static func table<Child: ConfigSection>(_ name: String, _ keyPath: WritableKeyPath<Parent, Child> & Sendable,
                                            printedWhen: @escaping @Sendable (Child) -> Bool = { _ in true }) -> Self {
        Self(name: name, read: { reader, parent throws(ConfigError) in
            var child = try reader.subtable(name)
            parent[keyPath: keyPath] = try Child.read(from: &child)
        }, printed: { parent, path in
            let (section, own) = (parent[keyPath: keyPath], joinedPath(path, name))
            return printedWhen(section) ? ["", "[\(own)]"] + section.printed(path: own) : []
        }, changedKeys: { old, new, path, restartOnly in
            old[keyPath: keyPath].changedKeys(to: new[keyPath: keyPath], path: joinedPath(path, name), restartOnly: restartOnly)
        }, keyPaths: { Child.keyPaths(path: joinedPath($0, name)) })
    }

    /// `[[name]]` blocks (or an array of inline tables), read into `keyPath`. A
    /// reload compares them in order: a key is changed when one element's value
    /// is, and every key is when elements were added or removed.
    static func array<Element: ConfigSection>(_ name: String, _ keyPath: WritableKeyPath<Parent, [Element]> & Sendable) -> Self {
        Self(name: name, read: { reader, parent throws(ConfigError) in
            var elements: [Element] = []
            for var child in try reader.tables(name) { elements.append(try Element.read(from: &child)) }
            parent[keyPath: keyPath] = elements
        }, printed: { parent, path in
            let own = joinedPath(path, name)
            return parent[keyPath: keyPath].flatMap { ["", "[[\(own)]]"] + $0.printed(path: own) }
        }, changedKeys: { old, new, path, restartOnly in
            let (old, new, own) = (old[keyPath: keyPath], new[keyPath: keyPath], joinedPath(path, name))
            var changed = zip(old, new).flatMap { $0.changedKeys(to: $1, path: own, restartOnly: restartOnly) }
            if old.count != new.count {
                changed += Element.keys.filter { !restartOnly || $0.reload == .needsRestart }.map { joinedPath(own, $0.name) }
            }
            // In declaration order, each once.
            return Element.keyPaths(path: own).filter(changed.contains)
        }, keyPaths: { Element.keyPaths(path: joinedPath($0, name)) })
    }
}
