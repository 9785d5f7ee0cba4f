import Foundation
import MailQueue

/// What `veil queue list` and `veil queue show` print. Everything from the queue
/// came from a client or a remote server: control characters are shown escaped,
/// never sent raw to the administrator's terminal.
public enum QueueListing {
    /// Opens the queue index of a spool read-only (the daemon may be running).
    public static func reader(for configuration: Configuration) throws -> QueueReader {
        try QueueReader(directory: configuration.spoolDirectory)
    }

    /// One JSON array (`veil queue list --json`, docs/admin-guide.md): id, size,
    /// sender, created, held, recipients.
    public static func json(_ entries: [QueueEntry]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // JSONEncoder leaves DEL and C1 controls (U+0080–U+009F) raw; a terminal
        // takes U+009B as the start of an escape sequence.
        var escaped = ""
        for scalar in String(decoding: try encoder.encode(entries), as: UTF8.self).unicodeScalars {
            if scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value) {
                escaped += String(format: "\\u%04x", scalar.value)
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// A mailq-style table: a line per message, an indented line per recipient,
    /// then a summary by state.
    public static func text(_ entries: [QueueEntry], now: Date = Date()) -> String {
        var lines: [String] = []
        var states: [String: Int] = [:]
        for entry in entries {
            lines.append([entry.id, size(entry.size), age(entry.created, now: now), "<\(clean(entry.sender))>",
                          entry.held ? "HELD" : ""].filter { !$0.isEmpty }.joined(separator: "  "))
            for recipient in entry.recipients {
                states[recipient.state, default: 0] += 1
                var line = "    <\(clean(recipient.address))>  \(recipient.state)"
                if recipient.attempts > 0 { line += "  attempts=\(recipient.attempts)" }
                if let next = recipient.nextAttempt, recipient.state == RecipientState.deferred.rawValue { line += "  next=\(next)" }
                if let reply = recipient.lastReply { line += "  last=\"\(clean(reply))\"" }
                lines.append(line)
            }
        }
        let held = entries.filter(\.held).count
        let summary = RecipientState.allCases.map { "\(states[$0.rawValue, default: 0]) \($0)" }
        lines.append("-- \(entries.count) message(s)\(held > 0 ? ", \(held) held" : ""); recipients: "
                     + summary.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }

    /// Envelope, each recipient with its attempts, and the header block as it
    /// will be sent.
    public static func details(_ entry: QueueEntry, headers: [UInt8]?, now: Date = Date()) -> String {
        var parameters: [String] = []
        if let body = entry.body { parameters.append("BODY=\(body)") }
        if entry.smtpUTF8 { parameters.append("SMTPUTF8") }
        if let ret = entry.ret { parameters.append("RET=\(ret)") }
        if let envid = entry.envelopeID { parameters.append("ENVID=\(clean(envid))") }
        var lines = [
            "queue id:   \(entry.id)",
            "received:   \(entry.created) (\(age(entry.created, now: now)) ago)",
            "size:       \(entry.size) bytes",
            "sender:     <\(clean(entry.sender))>",
            "client:     [\(clean(entry.clientAddress))] helo=\(clean(entry.clientName)) listener=\(clean(entry.listener))"
                + (entry.authenticatedUser.map { " auth=\(clean($0))" } ?? ""),
            "parameters: \(parameters.isEmpty ? "none" : parameters.joined(separator: " "))",
            "held:       \(entry.held ? "yes (no delivery until released)" : "no")",
            "",
            "recipients:",
        ]
        for recipient in entry.recipients {
            var line = "  <\(clean(recipient.address))>  \(recipient.state), \(recipient.attempts) attempt(s)"
            if let next = recipient.nextAttempt, recipient.state == RecipientState.deferred.rawValue { line += ", next \(next)" }
            lines.append(line)
            if recipient.notify != nil || recipient.originalRecipient != nil {
                lines.append("    NOTIFY=\(recipient.notify ?? "default") ORCPT=\(clean(recipient.originalRecipient ?? "none"))")
            }
            for attempt in recipient.history {
                lines.append("    \(attempt.at)  \(attempt.state)  via \(clean(attempt.relay)): \(clean(attempt.reply))")
            }
            if recipient.history.isEmpty, let reply = recipient.lastReply { lines.append("    last: \(clean(reply))") }
        }
        lines += ["", "headers (as they will be sent):"]
        if let headers {
            // Split at CRLF (one Character in Swift), LF or CR.
            lines += String(decoding: headers, as: UTF8.self).split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
                .map { "  " + clean(String($0)) }
        } else {
            lines.append("  (message file missing)")
        }
        return lines.joined(separator: "\n")
    }

    private static func size(_ bytes: Int) -> String {
        bytes < 1024 ? "\(bytes) B" : bytes < 1 << 20 ? "\(bytes >> 10) KB" : String(format: "%.1f MB", Double(bytes) / 1048576)
    }

    private static func age(_ created: String, now: Date) -> String {
        guard let date = Timestamp.parse(created) else { return "?" }
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m" }
        if seconds < 86400 { return "\(seconds / 3600)h\(seconds % 3600 / 60)m" }
        return "\(seconds / 86400)d\(seconds % 86400 / 3600)h"
    }

    /// Control characters (and DEL) as `\xNN`.
    static func clean(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 && scalar != "\t" || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value) {
                result += String(format: "\\x%02x", scalar.value)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
