import Foundation
import MailQueue
import MessageRewriter
import SMTPCore

/// The per-message values of the rewriter: Veil's trace field, and the Date and
/// Message-ID for messages without them.
enum MessageContextFactory {
    /// `Received: by HOSTNAME (Veil) with PROTOCOL id QUEUEID; DATE` (RFC 5321
    /// §4.4, RFC 3848): no `from` clause, so no client name or address.
    static func make(queueID: String, envelope: Envelope, configuration: Configuration) -> MessageContext {
        let date = Timestamp.rfc5322(Date())
        let trace = configuration.scrub.received == .anonymous
            ? "Received: by \(configuration.hostname) (Veil) with \(envelope.protocolName) id \(queueID); \(date)" : nil
        var generator = SystemRandomNumberGenerator()
        // 128 random bits (each next() is a getrandom call).
        let unique = (0..<2).map { _ in String(generator.next() as UInt64, radix: 36) }.joined()
        return MessageContext(traceField: trace, date: date, generatedMessageID: "<\(unique)@\(configuration.hostname)>")
    }
}
