import Foundation

/// Times as the queue, the log and the messages need them, formatted by hand from
/// gmtime_r: Foundation's formatters (String(format:) included) cost tens of
/// microseconds each, and every message needs several. The queue index stores
/// ``format(_:)``'s text; its API takes and gives `Date`.
public enum Timestamp {
    /// RFC 3339 in UTC with milliseconds (`2026-11-30T02:20:00.123Z`), as the queue
    /// index stores times: they sort as text in time order.
    public static func format(_ date: Date) -> String {
        let (time, milliseconds) = broken(date)
        return rfc3339(time, milliseconds: Int(milliseconds))
    }

    /// The current time as ``format(_:)`` writes it, read with clock_gettime (for
    /// the log).
    public static func nowForLog() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var time = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &time)
        return rfc3339(time, milliseconds: now.tv_nsec / 1_000_000)
    }

    private static func rfc3339(_ time: tm, milliseconds: Int) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(24)
        append(Int(time.tm_year) + 1900, digits: 4, to: &text, then: "-")
        append(Int(time.tm_mon) + 1, digits: 2, to: &text, then: "-")
        append(Int(time.tm_mday), digits: 2, to: &text, then: "T")
        append(Int(time.tm_hour), digits: 2, to: &text, then: ":")
        append(Int(time.tm_min), digits: 2, to: &text, then: ":")
        append(Int(time.tm_sec), digits: 2, to: &text, then: ".")
        append(milliseconds, digits: 3, to: &text, then: "Z")
        return String(decoding: text, as: UTF8.self)
    }

    /// Reads what ``format(_:)`` writes (and the same without milliseconds).
    public static func parse(_ text: String) -> Date? {
        let digits = text.utf8.map { Int($0) - 48 }
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"), bytes.last == UInt8(ascii: "Z")
        else { return nil }
        func number(_ range: Range<Int>) -> Int { range.reduce(0) { $0 * 10 + digits[$1] } }
        var time = tm()
        time.tm_year = Int32(number(0..<4) - 1900)
        time.tm_mon = Int32(number(5..<7) - 1)
        time.tm_mday = Int32(number(8..<10))
        time.tm_hour = Int32(number(11..<13))
        time.tm_min = Int32(number(14..<16))
        time.tm_sec = Int32(number(17..<19))
        let milliseconds = bytes.count >= 24 && bytes[19] == UInt8(ascii: ".") ? number(20..<23) : 0
        return Date(timeIntervalSince1970: Double(timegm(&time)) + Double(milliseconds) / 1000)
    }

    /// RFC 5322 §3.3 `date-time` in UTC: "Mon, 30 Nov 2026 02:20:00 +0000".
    public static func rfc5322(_ date: Date) -> String {
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let (time, _) = broken(date)
        var text = Array("\(days[Int(time.tm_wday)]), ".utf8)
        append(Int(time.tm_mday), digits: 2, to: &text, then: " ")
        text += "\(months[Int(time.tm_mon)]) ".utf8
        append(Int(time.tm_year) + 1900, digits: 4, to: &text, then: " ")
        append(Int(time.tm_hour), digits: 2, to: &text, then: ":")
        append(Int(time.tm_min), digits: 2, to: &text, then: ":")
        append(Int(time.tm_sec), digits: 2, to: &text, then: " ")
        text += "+0000".utf8
        return String(decoding: text, as: UTF8.self)
    }

    /// `value` with at least `digits` digits (zero-padded), then `separator`.
    private static func append(_ value: Int, digits: Int, to text: inout [UInt8], then separator: Unicode.Scalar) {
        let start = text.count
        var value = value
        repeat {
            text.insert(UInt8(ascii: "0") + UInt8(value % 10), at: start)
            value /= 10
        } while value > 0
        while text.count - start < digits { text.insert(UInt8(ascii: "0"), at: start) }
        text.append(UInt8(ascii: separator))
    }

    private static func broken(_ date: Date) -> (tm, Int32) {
        let interval = date.timeIntervalSince1970
        var seconds = time_t(interval.rounded(.down))
        var time = tm()
        gmtime_r(&seconds, &time)
        return (time, Int32((interval - Double(seconds)) * 1000))
    }
}
