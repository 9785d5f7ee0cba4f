import Foundation
import NIOCore
import SMTPCore
import Testing
@testable import MailQueue

@Suite struct SpoolTests {
    let envelope: Envelope = {
        var envelope = Envelope(sender: .mailbox(Mailbox(localPart: "a", domain: "corp.example")), parameters: MailParameters(),
                                clientName: "exch01", authenticatedUser: "demo", protocolName: "ESMTPSA")
        envelope.recipients = [Recipient(mailbox: Mailbox(localPart: "b", domain: "example.org"), parameters: RecipientParameters())]
        return envelope
    }()

    @Test func committedMessagesSurviveReopeningAndLeftoversGo() throws {
        let directory = temporaryDirectory()
        do {
            let (spool, recovery) = try Spool.open(directory: directory)
            #expect(recovery == .init(removedIncoming: 0, removedOrphans: 0, queued: 0))
            #expect(try spool.indexSynchronousLevel() == 2)
            let message = try spool.createIncoming()
            try message.write(ByteBuffer(string: "Subject: x\r\n\r\nbody\r\n"))
            try spool.commit(message, envelope: envelope, receivedAt: Timestamp.parse("2026-11-30T00:00:00Z")!, clientAddress: "127.0.0.1", listener: "test")
            // What a crash leaves: a file being received, and one linked into
            // messages/ whose index row never committed.
            FileManager.default.createFile(atPath: directory + "/incoming/01M8N2JN2CQWDK", contents: Data("half".utf8))
            FileManager.default.createFile(atPath: directory + "/messages/01M8N2JN2CQWDJ", contents: Data("orphan".utf8))
            // A second process cannot take the spool over while this one holds it.
            #expect(throws: SpoolError.self) { try Spool.open(directory: directory) }
        }
        let (spool, recovery) = try Spool.open(directory: directory)
        #expect(recovery == .init(removedIncoming: 1, removedOrphans: 1, queued: 1))
        #expect(try spool.queuedCount() == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/incoming").isEmpty)
    }

    @Test func aMissingIndexWithMessagesRefusesToStart() throws {
        let directory = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory + "/messages", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: directory + "/messages/01M8N2JN2CQWDJ", contents: Data("queued".utf8))
        #expect(throws: SpoolError.self) { try Spool.open(directory: directory) }
        #expect(FileManager.default.fileExists(atPath: directory + "/messages/01M8N2JN2CQWDJ"))
    }

    @Test func queueIDsAreUniqueAndSortByTime() {
        let ids = (0..<10_000).map { _ in QueueID.make() }
        #expect(Set(ids).count == ids.count)
        #expect(ids == ids.sorted())
        #expect(ids.allSatisfy(QueueID.isValid))
        #expect(QueueID.make(millisecondsSinceEpoch: 1, random: 0) < QueueID.make(millisecondsSinceEpoch: 2, random: 0))
    }
}
