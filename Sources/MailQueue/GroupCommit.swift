import Foundation

/// Group commit: concurrent commits share one write. The first thread to arrive
/// while no write is running writes everything queued so far (its own entry and
/// those of the threads that came meanwhile); the others wait for that write and
/// take its outcome. Under load many messages share one directory fsync and one
/// SQLite transaction, so fsyncs stop limiting the accept rate; alone, a commit is
/// written at once. Blocking: thread pool only.
final class GroupCommit<Entry: Sendable>: @unchecked Sendable {
    /// Guards everything below.
    private let condition = NSCondition()
    private var pending: [(ticket: Int, entry: Entry)] = []
    private var outcomes: [Int: Result<Void, SpoolError>] = [:]
    private var writing = false
    private var nextTicket = 0
    private let write: ([Entry]) throws(SpoolError) -> Void

    init(write: @escaping ([Entry]) throws(SpoolError) -> Void) {
        self.write = write
    }

    /// Returns once `entry` is written (with others, perhaps) or throws the error
    /// of the write it was part of.
    func commit(_ entry: Entry) throws(SpoolError) {
        condition.lock()
        let ticket = nextTicket
        nextTicket += 1
        pending.append((ticket, entry))
        while true {
            if let outcome = outcomes.removeValue(forKey: ticket) {
                condition.unlock()
                return try outcome.get()
            }
            if writing {
                condition.wait()
                continue
            }
            writing = true
            let batch = pending
            pending = []
            condition.unlock()
            let outcome: Result<Void, SpoolError>
            do throws(SpoolError) {
                try write(batch.map(\.entry))
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            condition.lock()
            for (waiting, _) in batch { outcomes[waiting] = outcome }
            writing = false
            condition.broadcast()
        }
    }
}
