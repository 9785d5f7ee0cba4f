import Foundation
import Logging
import MailQueue

/// Writes one line per event to stderr, as logfmt (`ts=… level=info event=accepted
/// queue_id=…`) or JSON, for journald and fail2ban. The log message is the event
/// name; metadata carries the details and never secrets or message content (the
/// events and their fields: `VeilEvent`).
public struct LogfmtLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let json: Bool

    public init(level: Logger.Level, json: Bool) {
        self.logLevel = level
        self.json = json
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let line = self.line(event, time: Timestamp.nowForLog())
        // write(2) directly: a log sink that went away must not stop the relay.
        let bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }

    /// The line of `event`, with `time` as its `ts`.
    func line(_ event: LogEvent, time: String) -> String {
        var fields: [(String, String)] = [("ts", time), ("level", "\(event.level)"), ("event", "\(event.message)")]
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let order = ["listener", "client", "queue_id"]
        for key in order { if let value = merged[key] { fields.append((key, Self.text(value))) } }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) where !order.contains(key) {
            fields.append((key, Self.text(value)))
        }
        return (json ? Self.jsonLine(fields) : Self.logfmtLine(fields)) + "\n"
    }

    /// A field's value; a `Date` is written as `ts` is.
    static func text(_ value: Logger.MetadataValue) -> String {
        if case .stringConvertible(let date as Date) = value { return Timestamp.format(date) }
        return "\(value)"
    }

    static func logfmtLine(_ fields: [(String, String)]) -> String {
        fields.map { key, value in "\(key)=\(quoted(value))" }.joined(separator: " ")
    }

    /// logfmt values are quoted when they hold spaces, quotes, `=` or control
    /// characters; control characters are escaped so a client cannot forge lines.
    static func quoted(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { $0 == " " || $0 == "\"" || $0 == "=" || isInvisible($0) }
        guard needsQuotes else { return value }
        return "\"" + escaped(value) + "\""
    }

    static func jsonLine(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\"\($0.0)\":\"\(escaped($0.1))\"" }.joined(separator: ",") + "}"
    }

    static func escaped(_ value: String) -> String {
        var result = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where isInvisible(scalar):
                // JSON's \\u escape holds UTF-16 units.
                for unit in String(scalar).utf16 { result += String(format: "\\u%04x", unit) }
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Controls (C0, C1), format characters (bidi overrides, zero-width) and line or
    /// paragraph separators: escaped, so that a client-chosen name cannot forge or
    /// disguise a log line.
    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return scalar.value < 0x20 || scalar.value == 0x7F }
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }
}
