import Delivery
import DKIM
import Foundation

/// `veil dkim keygen`: a new signing key in a file of its own (mode 0600, never
/// over an existing file) and the DNS record to publish for it.
public enum DKIMKeyGenerator {
    public enum Algorithm: String, CaseIterable, Sendable {
        case rsa2048 = "rsa-2048"
        case rsa3072 = "rsa-3072"
        case rsa4096 = "rsa-4096"
        case ed25519

        var rsaBits: Int? {
            switch self {
            case .rsa2048: return 2048
            case .rsa3072: return 3072
            case .rsa4096: return 4096
            case .ed25519: return nil
            }
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Writes the key to `path` and returns the record as a zone file line.
    public static func generate(domain: String, selector: String, algorithm: Algorithm, path: String) throws(Failure) -> String {
        let ascii: String
        do {
            ascii = try IDNA.toASCII(domain).lowercased()
        } catch {
            throw Failure(description: "\"\(domain)\" is not a valid domain name: \(error.reason)")
        }
        guard Keyring.isValidSelector(selector) else {
            throw Failure(description: "\"\(selector)\" is not a selector (letters, digits, hyphens, dots)")
        }
        let key: SigningKey
        do {
            key = try SigningKey.generate(rsaBits: algorithm.rsaBits)
        } catch {
            throw Failure(description: "cannot make the key: \(error)")
        }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw Failure(description: "\(path): \(String(cString: strerror(errno)))")
        }
        let pem = Array(key.pem.utf8)
        let written = pem.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == pem.count, synced else {
            unlink(path)
            throw Failure(description: "\(path): the key could not be written")
        }
        return key.zoneFileLine(domain: ascii, selector: selector)
    }
}
