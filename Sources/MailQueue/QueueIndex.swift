// Longer than 300 lines: every SQL statement of the queue index, so that the schema and the
// queries on it are read together.

import Foundation
import GRDB
import SMTPCore

/// The queue index: one row per message and one per recipient, in SQLite with WAL
/// and `synchronous = FULL`, so a committed row survives a crash or power loss.
final class QueueIndex: Sendable {
    let database: DatabasePool

    init(path: String) throws {
        database = try DatabasePool(path: path)
        try Self.migrator.migrate(database)
        // GRDB sets `synchronous = NORMAL` for WAL when it opens the pool; the queue
        // needs every commit fsynced (a 250 is a promise), so set FULL afterwards on
        // the writer connection, which stays open.
        try database.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
    }

    /// Opens the index of a running (or stopped) daemon for reading only: no lock,
    /// no migration, nothing written (`veil queue list` and `show`).
    init(readingAt path: String) throws {
        var configuration = GRDB.Configuration()
        configuration.readonly = true
        database = try DatabasePool(path: path, configuration: configuration)
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
        // Administration: messages on hold (`veil queue hold`) and each recipient's
        // attempts while its message is queued (`veil queue show`).
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                ALTER TABLE messages ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE attempts (
                    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
                    recipient INTEGER NOT NULL,
                    at TEXT NOT NULL,
                    state TEXT NOT NULL,
                    reply TEXT NOT NULL,
                    relay TEXT NOT NULL
                );
                CREATE INDEX attempts_by_message ON attempts(message_id);
                """)
        }
        // MTA-STS policies fetched (RFC 8461 §5.1: kept for max_age) and TLS session
        // results per day for the TLS reports (RFC 8460 §4); queries in
        // QueueIndex+TLSPolicies.swift.
        migrator.registerMigration("v3") { db in
            try db.execute(sql: """
                CREATE TABLE mta_sts_policies (
                    domain TEXT PRIMARY KEY NOT NULL,
                    record_id TEXT NOT NULL,
                    policy TEXT NOT NULL,
                    fetched_at TEXT NOT NULL,
                    expires_at TEXT NOT NULL
                );
                CREATE TABLE tls_results (
                    day TEXT NOT NULL,
                    session TEXT NOT NULL,
                    count INTEGER NOT NULL,
                    PRIMARY KEY (day, session)
                );
                """)
        }
        return migrator
    }

    /// Inserts the messages and their recipients in one transaction (one fsync).
    func insert(_ messages: [QueuedMessage]) throws {
        try database.write { db in
            for message in messages { try Self.insert(message, into: db) }
        }
    }

    private static func insert(_ message: QueuedMessage, into db: Database) throws {
        // Cached statements: the hot path parses each SQL text once per connection.
        try db.cachedStatement(
            sql: """
                INSERT INTO messages (id, sender, size, received_at, body, smtputf8, ret, envid,
                                      auth_user, client_address, client_helo, listener)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(
            arguments: [message.id, message.envelope.sender.mailbox?.description ?? "",
                        message.size, Timestamp.format(message.receivedAt),
                        message.envelope.parameters.body?.rawValue,
                        message.envelope.parameters.smtpUTF8,
                        message.envelope.parameters.ret?.rawValue,
                        message.envelope.parameters.envelopeID,
                        message.envelope.authenticatedUser, message.clientAddress,
                        message.envelope.clientName, message.listener])
        for recipient in message.envelope.recipients {
            try db.cachedStatement(sql: "INSERT INTO recipients (message_id, address, notify, orcpt) VALUES (?, ?, ?, ?)").execute(
                arguments: [message.id, recipient.mailbox.description,
                            recipient.parameters.notify?.description, recipient.parameters.originalRecipient])
        }
    }

    func queueIDs() throws -> Set<String> {
        try database.read { db in Set(try String.fetchAll(db, sql: "SELECT id FROM messages")) }
    }

    /// Messages with recipients due at `now` (queued, or deferred with a next attempt
    /// not after `now`), oldest first, skipping `excluded` (already in flight). The
    /// rows stream in message order (no sort), and reading stops at `limit`
    /// messages: a pass costs what it takes, not the size of the queue.
    func dueJobs(now: Date, limit: Int, excluded: Set<String>) throws -> [DeliveryJob] {
        try database.read { db in
            let rows = try Row.fetchCursor(db.cachedStatement(sql: """
                SELECT m.id, m.sender, m.size, m.body, m.smtputf8, m.ret, m.envid, m.received_at,
                       r.rowid AS rowid, r.address, r.notify, r.orcpt, r.attempts
                FROM recipients r JOIN messages m ON m.id = r.message_id
                WHERE r.state IN ('queued', 'deferred') AND (r.next_attempt IS NULL OR r.next_attempt <= ?) AND m.held = 0
                ORDER BY m.id, r.rowid
                """), arguments: [Timestamp.format(now)])
            var jobs: [DeliveryJob] = []
            // Columns by position, as selected above (name lookups cost a lower-casing each).
            while let row = try rows.next() {
                let id: String = row[0]
                if excluded.contains(id) { continue }
                let recipient = DeliveryJob.Recipient(rowID: row[8], address: row[9], notify: Self.notify(row[10]),
                                                      originalRecipient: row[11], attempts: row[12])
                if jobs.last?.queueID == id {
                    jobs[jobs.count - 1].recipients.append(recipient)
                } else {
                    guard jobs.count < limit else { break }
                    jobs.append(DeliveryJob(queueID: id, sender: row[1], size: row[2], body: Self.body(row[3]), smtpUTF8: row[4],
                                            ret: Self.ret(row[5]), envelopeID: row[6], receivedAt: Self.time(row[7]), recipients: [recipient]))
                }
            }
            return jobs
        }
    }

    /// The earliest next attempt of any deferred recipient, if any (one edited into
    /// something unreadable is none: the runner then polls at its idle interval).
    func nextAttempt() throws -> Date? {
        try database.read { db in
            try String.fetchOne(db, sql: """
                SELECT MIN(r.next_attempt) FROM recipients r JOIN messages m ON m.id = r.message_id
                WHERE r.state = 'deferred' AND m.held = 0
                """).flatMap(Timestamp.parse)
        }
    }

    /// An arrival time as the index stores it (``Timestamp/format(_:)``). One that
    /// does not parse (edited by hand) counts as now: the message is not expired by it.
    static func time(_ text: String) -> Date {
        Timestamp.parse(text) ?? Date()
    }

    /// Envelope parameters as stored; what does not parse (edited by hand) is left out.
    static func notify(_ text: String?) -> Notify? { text.flatMap { Notify($0) } }
    static func ret(_ text: String?) -> DSNReturn? { text.flatMap(DSNReturn.init(rawValue:)) }
    static func body(_ text: String?) -> BodyType? { text.flatMap(BodyType.init(rawValue:)) }

    /// Saves attempts of several messages in one transaction (one fsync); returns
    /// the ids of the messages that left the queue (the caller removes their files).
    func record(_ attempts: [AttemptRecord]) throws -> [String] {
        try database.write { db in
            try attempts.filter { attempt in
                try Self.record(queueID: attempt.queueID, outcomes: attempt.outcomes, time: attempt.time,
                                relay: attempt.relay, in: db)
            }.map(\.queueID)
        }
    }

    /// Saves the outcome of one attempt (at `time`, through `relay`) per recipient
    /// and, when no recipient is left to try, removes the message's rows; returns
    /// true then. The attempt history is kept only for messages that stay queued.
    private static func record(queueID: String, outcomes: [(rowID: Int64, outcome: DeliveryOutcome)], time: Date,
                               relay: String, in db: Database) throws -> Bool {
        for (rowID, outcome) in outcomes {
            var next: String?
            if case .deferred(_, let nextAttempt) = outcome { next = Timestamp.format(nextAttempt) }
            let (state, reply) = (outcome.state.rawValue, outcome.reply)
            try db.cachedStatement(sql: """
                UPDATE recipients SET state = ?, last_reply = ?, next_attempt = ?, attempts = attempts + 1
                WHERE rowid = ? AND message_id = ? AND state IN ('queued', 'deferred')
                """).execute(arguments: [state, reply, next, rowID, queueID])
        }
        let pending = try Int.fetchOne(db.cachedStatement(sql: """
            SELECT COUNT(*) FROM recipients WHERE message_id = ? AND state IN ('queued', 'deferred')
            """), arguments: [queueID]) ?? 0
        guard pending == 0 else {
            for (rowID, outcome) in outcomes {
                try db.cachedStatement(sql: """
                    INSERT INTO attempts (message_id, recipient, at, state, reply, relay)
                    SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM messages WHERE id = ?)
                    """).execute(arguments: [queueID, rowID, Timestamp.format(time), outcome.state.rawValue, outcome.reply, relay, queueID])
            }
            return false
        }
        for sql in ["DELETE FROM attempts WHERE message_id = ?", "DELETE FROM recipients WHERE message_id = ?",
                      "DELETE FROM messages WHERE id = ?"] {
            try db.cachedStatement(sql: sql).execute(arguments: [queueID])
        }
        return true
    }
}

// MARK: Administration (`veil queue ...`)

extension QueueIndex {
    /// Every queued message with its recipients (`ids`: only these), oldest first;
    /// with `history`, each recipient's attempts too.
    func entries(ids: [String]? = nil, history: Bool = false) throws -> [QueueEntry] {
        try database.read { db in
            // `IN (?, ?, ...)` for the messages and for their recipients.
            var (messageFilter, recipientFilter) = ("", "")
            var arguments: StatementArguments = []
            if let ids {
                let marks = ids.map { _ in "?" }.joined(separator: ",")
                (messageFilter, recipientFilter) = ("WHERE id IN (\(marks))", "WHERE message_id IN (\(marks))")
                arguments = StatementArguments(ids)
            }
            var entries = try Row.fetchAll(db, sql: """
                SELECT id, sender, size, received_at, held, body, smtputf8, ret, envid, auth_user, client_address,
                       client_helo, listener FROM messages \(messageFilter) ORDER BY id
                """, arguments: arguments).map { row in
                QueueEntry(id: row[0], sender: row[1], size: row[2], created: row[3], held: row[4], body: row[5],
                           smtpUTF8: row[6], ret: row[7], envelopeID: row[8], authenticatedUser: row[9],
                           clientAddress: row[10], clientName: row[11], listener: row[12], recipients: [])
            }
            let positions = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($0.element.id, $0.offset) })
            var rowIDs: [Int64: (entry: Int, recipient: Int)] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT message_id, rowid, address, state, attempts, next_attempt, last_reply, notify, orcpt
                FROM recipients \(recipientFilter)
                ORDER BY message_id, rowid
                """, arguments: arguments) {
                guard let position = positions[row[0]] else { continue }
                rowIDs[row[1]] = (position, entries[position].recipients.count)
                entries[position].recipients.append(QueueEntry.Recipient(
                    address: row[2], state: row[3], attempts: row[4], nextAttempt: row[5], lastReply: row[6],
                    notify: row[7], originalRecipient: row[8], history: []))
            }
            if history {
                for row in try Row.fetchAll(db, sql: "SELECT recipient, at, state, reply, relay FROM attempts ORDER BY rowid") {
                    guard let (entry, recipient) = rowIDs[row[0]] else { continue }
                    entries[entry].recipients[recipient].history.append(
                        QueueEntry.Attempt(at: row[1], state: row[2], reply: row[3], relay: row[4]))
                }
            }
            return entries
        }
    }

    /// Puts messages on hold or releases them; returns the ids found.
    func setHeld(_ ids: [String], _ held: Bool) throws -> [String] {
        try database.write { db in
            try ids.filter { id in
                try db.execute(sql: "UPDATE messages SET held = ? WHERE id = ?", arguments: [held, id])
                return db.changesCount > 0
            }
        }
    }

    /// Makes deferred recipients of messages not on hold due now (of `ids`, or of
    /// every message); returns how many, and the ids not in the queue.
    func flush(_ ids: [String]?) throws -> (recipients: Int, missing: [String]) {
        try database.write { db in
            let update = """
                UPDATE recipients SET next_attempt = NULL WHERE state = 'deferred'
                AND message_id IN (SELECT id FROM messages WHERE held = 0
                """
            guard let ids else {
                try db.execute(sql: update + ")")
                return (db.changesCount, [])
            }
            var count = 0
            var missing: [String] = []
            for id in ids {
                guard try Bool.fetchOne(db, sql: "SELECT 1 FROM messages WHERE id = ?", arguments: [id]) != nil else {
                    missing.append(id)
                    continue
                }
                try db.execute(sql: update + " AND id = ?)", arguments: [id])
                count += db.changesCount
            }
            return (count, missing)
        }
    }

    /// Removes a message's rows; false when it is not in the queue.
    func delete(_ id: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM attempts WHERE message_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM recipients WHERE message_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM messages WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    /// The recipients still to deliver of one message, due or not, held or not.
    func pendingJob(_ id: String) throws -> DeliveryJob? {
        try database.read { db in
            guard let message = try Row.fetchOne(db, sql: """
                SELECT id, sender, size, body, smtputf8, ret, envid, received_at FROM messages WHERE id = ?
                """, arguments: [id]) else { return nil }
            let recipients = try Row.fetchAll(db, sql: """
                SELECT rowid, address, notify, orcpt, attempts FROM recipients
                WHERE message_id = ? AND state IN ('queued', 'deferred') ORDER BY rowid
                """, arguments: [id]).map { row in
                DeliveryJob.Recipient(rowID: row[0], address: row[1], notify: Self.notify(row[2]), originalRecipient: row[3],
                                      attempts: row[4])
            }
            return DeliveryJob(queueID: message[0], sender: message[1], size: message[2], body: Self.body(message[3]),
                               smtpUTF8: message[4], ret: Self.ret(message[5]), envelopeID: message[6], receivedAt: Self.time(message[7]),
                               recipients: recipients)
        }
    }
}

extension QueueIndex {
    /// Counts for status lines and metrics.
    func summary() throws -> QueueSummary {
        try database.read { db in
            var summary = QueueSummary()
            if let row = try Row.fetchOne(db, sql: "SELECT COUNT(*), COALESCE(SUM(held), 0), MIN(received_at) FROM messages") {
                summary.messages = row[0]
                summary.held = row[1]
                summary.oldest = (row[2] as String?).map(Self.time)
            }
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) FROM recipients GROUP BY state") {
                // A state edited into something unknown is counted nowhere.
                guard let state = RecipientState(rawValue: row[0]) else { continue }
                summary.recipients[state] = row[1]
            }
            return summary
        }
    }
}
