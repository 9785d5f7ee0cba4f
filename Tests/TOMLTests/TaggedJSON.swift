import Foundation
import TOML

/// Compares what Veil's reader read with what another parser wrote in toml-test's
/// tagged JSON: tables as objects, arrays as arrays, scalars as
/// `{"type": "string"|"integer"|"float"|"bool", "value": "..."}`.
enum TaggedJSON {
    /// nil when they agree, else where and how they differ.
    static func mismatch(_ value: TOMLValue, _ json: Any, at path: String = "") -> String? {
        switch value.kind {
        case .table(let table):
            guard let object = json as? [String: Any], !isScalar(object) else { return "\(path): a table here, \(json) there" }
            let keys = Set(table.entries.map(\.key))
            guard keys == Set(object.keys) else { return "\(path): keys \(keys.sorted()) here, \(object.keys.sorted()) there" }
            for (key, item) in table.entries {
                if let problem = mismatch(item, object[key]!, at: path + "." + TOMLKey.display(key)) { return problem }
            }
            return nil
        case .array(let items):
            guard let array = json as? [Any], array.count == items.count else { return "\(path): \(items.count) items here, \(json) there" }
            for (index, (item, other)) in zip(items, array).enumerated() {
                if let problem = mismatch(item, other, at: path + "[\(index)]") { return problem }
            }
            return nil
        case .string(let text):
            return scalar(json, "string", path) { $0 == text }
        case .integer(let number):
            return scalar(json, "integer", path) { Int($0) == number }
        case .boolean(let flag):
            return scalar(json, "bool", path) { $0 == String(flag) }
        case .float(let number):
            return scalar(json, "float", path) { text in
                guard let other = Double(text) else { return false }
                return number.isNaN ? other.isNaN : number.bitPattern == other.bitPattern
            }
        }
    }

    private static func isScalar(_ object: [String: Any]) -> Bool {
        object.count == 2 && object["type"] is String && object["value"] is String
    }

    private static func scalar(_ json: Any, _ type: String, _ path: String, _ matches: (String) -> Bool) -> String? {
        guard let object = json as? [String: Any], isScalar(object), object["type"] as? String == type,
              let text = object["value"] as? String, matches(text) else {
            return "\(path): a different \(type) or another type there: \(json)"
        }
        return nil
    }
}
