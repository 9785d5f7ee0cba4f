/// A table while the document is read: open to new keys, and marked with what
/// defined it, because TOML 1.0 §Table allows each table to be defined only once:
///
/// - `implicit`: made as the parent of a header (`[a.b]` makes `a`); a later `[a]`
///   may still define it, and dotted keys may go through it.
/// - `header`: defined by `[name]`, or an element of `[[name]]`, or the root;
///   never defined again, and dotted keys of another table may not extend it.
/// - `dotted(section)`: made by dotted keys (`a.b = 1` makes `a`) in one section
///   (the lines under one header, or one inline table); only that section's dotted
///   keys may add to it, and no `[header]` may define it again.
///
/// Inline tables and arrays (§Inline Table, §Array) are closed once read: they are
/// stored as finished `TOMLValue`s, and nothing may add to them.
final class TableBuilder {
    enum Origin: Equatable {
        case implicit
        case header
        case dotted(section: Int)
    }

    enum Slot {
        case value(TOMLValue)
        case table(TableBuilder)
        case tables(ArrayOfTables)
    }

    /// The elements of a `[[name]]` array, each still open to new keys.
    final class ArrayOfTables {
        var elements: [TableBuilder]
        let line: Int

        init(first: TableBuilder) {
            elements = [first]
            line = first.line
        }
    }

    var origin: Origin
    var line: Int
    private(set) var keys: [String] = []
    private(set) var slots: [String: Slot] = [:]

    init(origin: Origin, line: Int) {
        self.origin = origin
        self.line = line
    }

    subscript(key: String) -> Slot? {
        slots[key]
    }

    func add(_ key: String, _ slot: Slot) {
        keys.append(key)
        slots[key] = slot
    }

    func build() -> TOMLTable {
        var table = TOMLTable(line: line)
        for key in keys {
            switch slots[key]! {
            case .value(let value):
                table.append(key, value)
            case .table(let child):
                table.append(key, TOMLValue(.table(child.build()), line: child.line))
            case .tables(let array):
                let elements = array.elements.map { TOMLValue(.table($0.build()), line: $0.line) }
                table.append(key, TOMLValue(.array(elements), line: array.line))
            }
        }
        return table
    }
}
