import GRDB
import SMTPCore

/// The queue index: one row per message and one per recipient, in SQLite with WAL
/// and `synchronous = FULL`, so a committed row survives a crash or power loss.
final class QueueIndex: Sendable {
    private let database: DatabasePool

    init(path: String) throws {
        database = try DatabasePool(path: path)
        // GRDB sets `synchronous = NORMAL` for WAL when it opens the pool; the queue
        // needs every commit fsynced (a 250 is a promise), so set FULL afterwards on
        // the writer connection, which stays open.
        try database.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        try Self.migrator.migrate(database)
    }

    /// The `synchronous` level in force on the writer connection (2 = FULL).
    func synchronousLevel() throws -> Int {
        try database.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE messages (
                    id TEXT PRIMARY KEY NOT NULL,
                    sender TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    received_at TEXT NOT NULL,
                    body TEXT,
                    smtputf8 INTEGER NOT NULL,
                    ret TEXT,
                    envid TEXT,
                    auth_user TEXT,
                    client_address TEXT NOT NULL,
                    client_helo TEXT NOT NULL,
                    listener TEXT NOT NULL
                );
                CREATE TABLE recipients (
                    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
                    address TEXT NOT NULL,
                    notify TEXT,
                    orcpt TEXT,
                    state TEXT NOT NULL DEFAULT 'queued',
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt TEXT,
                    last_reply TEXT
                );
                CREATE INDEX recipients_by_message ON recipients(message_id);
                """)
        }
        return migrator
    }

    /// Inserts the message and its recipients in one transaction.
    func insert(_ message: QueuedMessage) throws {
        try database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO messages (id, sender, size, received_at, body, smtputf8, ret, envid,
                                          auth_user, client_address, client_helo, listener)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [message.id, message.envelope.sender.mailbox?.description ?? "",
                            message.size, message.receivedAt,
                            message.envelope.parameters.body?.rawValue,
                            message.envelope.parameters.smtpUTF8,
                            message.envelope.parameters.ret?.rawValue,
                            message.envelope.parameters.envelopeID,
                            message.envelope.authenticatedUser, message.clientAddress,
                            message.envelope.clientName, message.listener])
            for recipient in message.envelope.recipients {
                try db.execute(
                    sql: "INSERT INTO recipients (message_id, address, notify, orcpt) VALUES (?, ?, ?, ?)",
                    arguments: [message.id, recipient.mailbox.description,
                                recipient.parameters.notify, recipient.parameters.originalRecipient])
            }
        }
    }

    func messageIDs() throws -> Set<String> {
        try database.read { db in Set(try String.fetchAll(db, sql: "SELECT id FROM messages")) }
    }
}
