// Longer than 300 lines: the spool's file operations in the order that makes a 250 a promise
// (write, fsync, link, commit, recovery); that order must be read in one place.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GRDB
import NIOCore
import SMTPCore

/// The durable queue on disk:
///
///     SPOOL/queue.sqlite   index (``QueueIndex``)
///     SPOOL/incoming/ID    messages being received
///     SPOOL/messages/ID    accepted messages
///     SPOOL/lock           held (flock) by the one process that owns the spool
///     SPOOL/quarantine/    broken entries moved aside (ID, and ID.json: why, envelope)
///
/// A message is accepted only after its file is fsynced, renamed into `messages/`,
/// the directory fsynced and its index row committed (in that order), so at every
/// moment a crash leaves either a committed message or a leftover that ``open(directory:)``
/// removes. `commit` runs on a thread pool; the small writes of a message as it
/// arrives go to the page cache from the event loop.
public final class Spool: Sendable {
    public let directory: String
    let index: QueueIndex
    /// The last step of accepting: the new names made durable, the index rows
    /// committed, shared by concurrent messages.
    private let commits: GroupCommit<QueuedMessage>
    /// Delivery results of concurrent sessions, saved together.
    private let records: GroupCommit<AttemptRecord>
    /// One quarantine at a time: two passes may find the same broken message.
    private let quarantineLock = NSLock()
    /// The open lock file; closing it (at exit) releases the spool.
    private let lockDescriptor: CInt

    /// What start-up recovery found and removed.
    public struct Recovery: Sendable, Equatable {
        public var removedIncoming: Int
        public var removedOrphans: Int
        public var queued: Int
    }

    private init(directory: String, index: QueueIndex, lockDescriptor: CInt) {
        self.directory = directory
        self.index = index
        self.lockDescriptor = lockDescriptor
        records = GroupCommit { attempts throws(SpoolError) in
            let finished: [String]
            do {
                finished = try index.record(attempts)
            } catch {
                throw .failed("index: \(error)")
            }
            // A crash before these unlinks leaves files without rows: removed at start-up.
            for id in finished { unlink(directory + "/messages/" + id) }
        }
        commits = GroupCommit { messages throws(SpoolError) in
            // The links into messages/ must be durable before the rows that name them.
            try Self.syncDirectory(directory + "/messages")
            do {
                try index.insert(messages)
            } catch {
                throw (error as? DatabaseError)?.resultCode == .SQLITE_FULL ? .diskFull : .failed("index: \(error)")
            }
        }
    }

    deinit {
        close(lockDescriptor)
    }

    /// Opens (creating if needed) the spool and removes what interrupted
    /// transactions left behind; everything committed is kept.
    ///
    /// Only one process may own a spool: a second `veil serve` on the same spool
    /// would take the running daemon's messages in progress for leftovers.
    public static func open(directory: String) throws -> (Spool, Recovery) {
        for path in [directory, directory + "/incoming", directory + "/messages"] {
            if mkdir(path, 0o700) != 0 && errno != EEXIST {
                throw SpoolError.fromErrno("mkdir \(path)", errno)
            }
        }
        let lockDescriptor = Glibc.open(directory + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockDescriptor >= 0 else { throw SpoolError.fromErrno("open \(directory)/lock", errno) }
        guard flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(lockDescriptor)
            throw SpoolError.failed("the spool is in use by another veil process")
        }
        do {
            let indexPath = directory + "/queue.sqlite"
            let indexExisted = access(indexPath, F_OK) == 0
            // A lost index must not make every queued message look like a leftover.
            if !indexExisted, try !list(directory + "/messages").isEmpty {
                throw SpoolError.failed("\(indexPath) is missing but \(directory)/messages holds messages; restore the index or move the files away")
            }
            let spool = Spool(directory: directory, index: try QueueIndex(path: indexPath), lockDescriptor: lockDescriptor)
            return (spool, try spool.recover())
        } catch {
            close(lockDescriptor)
            throw error
        }
    }

    private func recover() throws -> Recovery {
        var recovery = Recovery(removedIncoming: 0, removedOrphans: 0, queued: 0)
        for name in try Self.list(directory + "/incoming") {
            unlink(directory + "/incoming/" + name)
            recovery.removedIncoming += 1
        }
        let committed = try index.queueIDs()
        // A file renamed into messages/ whose row never committed never got a 250.
        for name in try Self.list(directory + "/messages") where !committed.contains(name) {
            unlink(directory + "/messages/" + name)
            recovery.removedOrphans += 1
        }
        if recovery.removedIncoming + recovery.removedOrphans > 0 {
            try Self.syncDirectory(directory + "/incoming")
            try Self.syncDirectory(directory + "/messages")
        }
        recovery.queued = committed.count
        return recovery
    }

    /// Starts a new message file in `incoming/`.
    public func createIncoming() throws(SpoolError) -> IncomingMessage {
        while true {
            let id = QueueID.make()
            let path = directory + "/incoming/" + id
            let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if descriptor >= 0 {
                return IncomingMessage(queueID: id, path: path, descriptor: descriptor)
            }
            if errno != EEXIST { throw .fromErrno("create", errno) }
        }
    }

    /// Makes the message durable and part of the queue. Blocking. On failure nothing
    /// of the message is left.
    public func commit(_ message: IncomingMessage, envelope: Envelope, receivedAt: Date,
                       clientAddress: String, listener: String) throws(SpoolError) {
        let finalPath = directory + "/messages/" + message.queueID
        var linked = false
        do throws(SpoolError) {
            try message.finish()
            // link + unlink rather than rename: it never replaces an existing file.
            guard link(message.path, finalPath) == 0 else { throw SpoolError.fromErrno("link", errno) }
            linked = true
            unlink(message.path)
            // The new name is made durable with the row (group commit); the old one,
            // if a crash brings it back, is an extra link that start-up recovery
            // removes from incoming/.
            try commits.commit(QueuedMessage(id: message.queueID, envelope: envelope, size: message.size,
                                             receivedAt: receivedAt, clientAddress: clientAddress, listener: listener))
        } catch {
            message.abort()
            if linked { unlink(finalPath) }
            throw error
        }
    }

    /// Queues a delivery status notification (RFC 3464) about the queued message
    /// `report.job`: written, fsynced and committed like accepted mail. Written in
    /// pieces, so memory does not grow with the message it returns: the report's
    /// head, then the message copied from its file a chunk at a time (all of it with
    /// RET=FULL, else its header block: RFC 3461 §4.3), then the closing delimiter
    /// of the `multipart/report` (RFC 6522). Blocking. Returns the report's queue
    /// id, or nil when the message's file is missing. On failure nothing of the
    /// report is left.
    public func enqueueReport(_ report: DeliveryStatusNotification, envelope: Envelope,
                              receivedAt: Date) throws(SpoolError) -> String? {
        guard let original = try MessageFileReader(path: messagePath(report.job.queueID)) else { return nil }
        let message = try createIncoming()
        do throws(SpoolError) {
            try message.write(ByteBuffer(bytes: report.head()))
            var lastByte: UInt8?
            try original.read(headerBlockOnly: !report.returnsWholeMessage) { piece throws(SpoolError) in
                lastByte = piece.readableBytesView.last
                try message.write(piece)
            }
            // Nothing copied: the head ends with a line end.
            try message.write(ByteBuffer(bytes: report.tail(afterLineEnd: lastByte.map { $0 == 10 } ?? true)))
        } catch {
            message.abort()
            throw error
        }
        try commit(message, envelope: envelope, receivedAt: receivedAt, clientAddress: "", listener: "veil")
        return message.queueID
    }

    /// Messages due for delivery at `now`, not in `excluded`.
    public func dueJobs(now: Date, limit: Int, excluded: Set<String>) throws -> [DeliveryJob] {
        try index.dueJobs(now: now, limit: limit, excluded: excluded)
    }

    /// When the next deferred recipient is due, if any.
    public func nextAttempt() throws -> Date? {
        try index.nextAttempt()
    }

    /// The path of an accepted message's file.
    public func messagePath(_ queueID: String) -> String {
        directory + "/messages/" + queueID
    }

    /// Saves an attempt's outcomes (committed before anything else happens, so a
    /// delivered recipient is never sent again); a message with every recipient
    /// final leaves the queue: index rows first, then its file. `time`
    /// and `relay` go into the attempt history.
    public func record(queueID: String, outcomes: [(rowID: Int64, outcome: DeliveryOutcome)], time: Date,
                       relay: String) throws {
        try records.commit(AttemptRecord(queueID: queueID, outcomes: outcomes, time: time, relay: relay))
    }

    // MARK: Administration

    /// Queued messages (of `ids`, or all), oldest first; with `history`, each
    /// recipient's attempts.
    public func entries(ids: [String]? = nil, history: Bool = false) throws -> [QueueEntry] {
        try index.entries(ids: ids, history: history)
    }

    /// Holds (no delivery) or releases messages; returns the ids found.
    public func setHeld(_ ids: [String], _ held: Bool) throws -> [String] {
        try index.setHeld(ids, held)
    }

    /// Makes deferred recipients of messages not on hold due now; returns how
    /// many, and the ids not in the queue.
    public func flush(_ ids: [String]?) throws -> (recipients: Int, missing: [String]) {
        try index.flush(ids)
    }

    /// The recipients of a message still to deliver, due or not.
    public func pendingJob(_ id: String) throws -> DeliveryJob? {
        try index.pendingJob(id)
    }

    /// Removes a message from the queue (rows, then file); false when not queued.
    public func delete(_ id: String) throws -> Bool {
        guard try index.delete(id) else { return false }
        unlink(messagePath(id))
        return true
    }

    public func summary() throws -> QueueSummary {
        try index.summary()
    }

    /// Why a due message cannot be sent as it is, if it cannot: its file is missing
    /// or not the size the queue recorded (truncated, edited), or an address in its
    /// index row holds a control character (edited: a CR LF in it would go on the
    /// wire as a command of its own).
    public func problem(with job: DeliveryJob) -> String? {
        var status = stat()
        guard stat(messagePath(job.queueID), &status) == 0 else { return "message file missing" }
        guard Int(status.st_size) == job.size else {
            return "message file is \(status.st_size) bytes, the queue recorded \(job.size)"
        }
        let addresses = (job.sender.isEmpty ? [] : [job.sender]) + job.recipients.map(\.address)
        let broken = addresses.contains { $0.isEmpty || $0.utf8.contains { $0 < 0x20 || $0 == 0x7f } }
        return broken ? "address in the index is not valid" : nil
    }

    /// Moves a broken message out of the queue, never to be delivered: its file (if
    /// any) to `quarantine/ID`, its index rows described in `quarantine/ID.json`,
    /// both made durable before the rows are removed. False when the message left
    /// the queue meanwhile (delivered, deleted): nothing to do.
    public func quarantine(_ id: String, reason: String) throws -> Bool {
        try quarantineLock.withLock {
            guard let entry = try index.entries(ids: [id], history: true).first else { return false }
            let folder = directory + "/quarantine"
            if mkdir(folder, 0o700) != 0 && errno != EEXIST { throw SpoolError.fromErrno("mkdir \(folder)", errno) }
            try Self.writeDurably(Array(try JSONEncoder().encode(QuarantineRecord(reason: reason, entry: entry))),
                                  to: folder + "/" + id + ".json")
            if rename(messagePath(id), folder + "/" + id) != 0 && errno != ENOENT {
                throw SpoolError.fromErrno("rename into \(folder)", errno)
            }
            try Self.syncDirectory(folder)
            try Self.syncDirectory(directory + "/messages")
            _ = try index.delete(id)
            return true
        }
    }

    /// A new file (never an existing one replaced), written and fsynced.
    private static func writeDurably(_ bytes: [UInt8], to path: String) throws(SpoolError) {
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .fromErrno("create \(path)", errno) }
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else { throw .fromErrno("write \(path)", errno) }
    }

    public func queuedCount() throws -> Int {
        try index.queueIDs().count
    }

    /// SQLite's `synchronous` level on the index (2 = FULL), for tests and checks.
    public func indexSynchronousLevel() throws -> Int {
        try index.synchronousLevel()
    }

    private static func syncDirectory(_ path: String) throws(SpoolError) {
        let descriptor = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .fromErrno("open \(path)", errno) }
        defer { close(descriptor) }
        if fsync(descriptor) != 0 { throw .fromErrno("fsync \(path)", errno) }
    }

    private static func list(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw SpoolError.fromErrno("opendir \(path)", errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
