import Foundation
import NIOCore
import SMTPCore
@testable import MailQueue

/// A new folder for a test's spool or files.
func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "veil-spool-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Queues `text` from a@corp.example to b@example.org; its queue id.
func queue(_ text: String, in spool: Spool) throws -> String {
    var envelope = Envelope(sender: .mailbox(Mailbox(localPart: "a", domain: "corp.example")), parameters: MailParameters(),
                            clientName: "exch01", authenticatedUser: nil, protocolName: "ESMTP")
    envelope.recipients = [Recipient(mailbox: Mailbox(localPart: "b", domain: "example.org"), parameters: RecipientParameters())]
    let message = try spool.createIncoming()
    try message.write(ByteBuffer(string: text))
    try spool.commit(message, envelope: envelope, receivedAt: Timestamp.parse("2026-11-30T00:00:00Z")!, clientAddress: "127.0.0.1", listener: "test")
    return message.queueID
}
