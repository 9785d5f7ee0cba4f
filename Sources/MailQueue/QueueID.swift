#if canImport(Glibc)
import Glibc
#endif

/// Queue ids: 14 characters of Crockford base32, the first ten the time in
/// milliseconds (so ids sort by arrival), the last four random.
public enum QueueID {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    public static func make(millisecondsSinceEpoch: UInt64, random: UInt32) -> String {
        var characters = [UInt8](repeating: 0, count: 14)
        var time = millisecondsSinceEpoch
        for index in stride(from: 9, through: 0, by: -1) {
            characters[index] = alphabet[Int(time & 31)]
            time >>= 5
        }
        var rest = random
        for index in 10..<14 {
            characters[index] = alphabet[Int(rest & 31)]
            rest >>= 5
        }
        return String(decoding: characters, as: UTF8.self)
    }

    public static func make() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let milliseconds = UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
        return make(millisecondsSinceEpoch: milliseconds, random: UInt32.random(in: 0..<(1 << 20)))
    }

    /// True for strings that `make` could have produced (used before touching files).
    public static func isValid(_ id: String) -> Bool {
        id.utf8.count == 14 && id.utf8.allSatisfy { alphabet.contains($0) }
    }
}
