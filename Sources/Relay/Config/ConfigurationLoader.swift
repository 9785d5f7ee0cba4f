import Foundation
import TOML

extension Configuration {
    /// Reads and validates a configuration file by the keys of Config/Keys. Every
    /// problem is reported as `file:line: key: problem`; unknown keys are errors.
    public static func load(path: String) throws(ConfigError) -> Configuration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, line: nil, key: "file", problem: "cannot be read")
        }
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(Array(data))
        } catch {
            throw ConfigError(file: path, line: error.line, key: error.key ?? "syntax", problem: error.message)
        }
        let absolutePath = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let directory = (absolutePath as NSString).deletingLastPathComponent
        var reader = TableReader(file: path, table: root, prefix: "", baseDirectory: directory)
        var configuration = try read(from: &reader)
        configuration.file = path
        return configuration
    }
}
