import Foundation
import NIOCore
import SMTPCore

/// Mail Veil makes itself, whole in memory (a TLS report, RFC 8460 §5.3), queued
/// like accepted mail and delivered by the queue runner.
extension Spool {
    /// Writes `text` (CRLF line ends, dot-stuffing left to delivery), fsyncs and
    /// commits it with `envelope`. Blocking. Returns the queue id; on failure nothing
    /// of the message is left.
    public func enqueue(_ text: [UInt8], envelope: Envelope, receivedAt: Date) throws(SpoolError) -> String {
        let message = try createIncoming()
        do throws(SpoolError) {
            try message.write(ByteBuffer(bytes: text))
        } catch {
            message.abort()
            throw error
        }
        try commit(message, envelope: envelope, receivedAt: receivedAt, clientAddress: "", listener: "veil")
        return message.queueID
    }
}
