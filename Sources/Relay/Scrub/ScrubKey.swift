import Foundation

/// The HMAC key of the Message-ID mapping. It must stay the same across restarts
/// (or replies to earlier mail would no longer thread), so it is read from
/// `scrub.secret_file`, or made once as `scrub.key` in the spool directory.
enum ScrubKey {
    static let length = 32

    static func load(_ configuration: Configuration) throws(ConfigError) -> [UInt8] {
        if let path = configuration.scrub.secretFile {
            guard let data = FileManager.default.contents(atPath: path), data.count >= 16 else {
                throw ConfigError(file: configuration.file, line: configuration.scrub.secretFileLine, key: "scrub.secret_file",
                                  problem: "\(path) cannot be read or holds fewer than 16 bytes")
            }
            return Array(data)
        }
        let path = configuration.spoolDirectory + "/scrub.key"
        let problem = { (what: String) in
            ConfigError(file: configuration.file, line: configuration.spoolDirectoryLine, key: "spool_dir", problem: what)
        }
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == length else { throw problem("\(path) is not a \(length)-byte key; remove it only if losing thread continuity is fine") }
            return Array(data)
        }
        var generator = SystemRandomNumberGenerator()
        let key = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw problem("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let written = key.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == length, fsync(descriptor) == 0 else { throw problem("cannot write \(path): \(String(cString: strerror(errno)))") }
        return key
    }
}
