#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers

/// Queue ids: 14 characters of Crockford base32, the first ten the time in
/// milliseconds (so ids sort by arrival), the last four a per-millisecond sequence
/// with a random start.
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
        for index in stride(from: 13, through: 10, by: -1) {
            characters[index] = alphabet[Int(rest & 31)]
            rest >>= 5
        }
        return String(decoding: characters, as: UTF8.self)
    }

    /// The last id handed out: ids of one process strictly increase, even within a
    /// millisecond or when the clock steps back.
    private static let last = NIOLockedValueBox((milliseconds: UInt64(0), sequence: UInt32(0)))

    public static func make() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let milliseconds = UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
        let (time, sequence) = last.withLockedValue { last in
            if milliseconds > last.milliseconds {
                // A random start leaves room to count up within the millisecond.
                last = (milliseconds, UInt32.random(in: 0..<(1 << 19)))
            } else if last.sequence + 1 < 1 << 20 {
                last.sequence += 1
            } else {
                last = (last.milliseconds + 1, 0)
            }
            return last
        }
        return make(millisecondsSinceEpoch: time, random: sequence)
    }

    /// True for strings that `make` could have produced (used before touching files).
    public static func isValid(_ id: String) -> Bool {
        id.utf8.count == 14 && id.utf8.allSatisfy { alphabet.contains($0) }
    }
}
