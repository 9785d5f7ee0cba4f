import Foundation
import LogEvents
import Logging
import MailQueue
import NIOConcurrencyHelpers
import NIOPosix

/// Reads the messages due for delivery. Broken ones (file missing or cut short, an
/// address edited into something that does not parse) are never sent: they are
/// moved to the quarantine folder, with a log line each.
struct DueMessages: Sendable {
    let spool: Spool
    let threadPool: NIOThreadPool
    let planner: NIOLockedValueBox<DeliveryPlanner>
    let logger: Logger

    /// Messages due now, not in `excluded`, at most `limit`.
    func read(excluded: Set<String>, limit: Int) async throws -> [DeliveryJob] {
        let spool = self.spool
        let (intact, broken) = try await threadPool.runIfActive {
            let due = try spool.dueJobs(now: Date(), limit: limit, excluded: excluded)
            var intact: [DeliveryJob] = []
            var broken: [(id: String, reason: String, failure: String?)] = []
            for job in due {
                guard let reason = spool.problem(with: job) else {
                    intact.append(job)
                    continue
                }
                do {
                    // False: the message left the queue since it was read (its file
                    // was missing for that reason).
                    if try spool.quarantine(job.queueID, reason: reason) { broken.append((job.queueID, reason, nil)) }
                } catch {
                    broken.append((job.queueID, reason, "\(error)"))
                }
            }
            return (intact, broken)
        }
        for entry in broken {
            if let failure = entry.failure {
                // Left where it is, but out of delivery until a restart.
                planner.withLockedValue { $0.keepOut(entry.id) }
                logger.log(.queueError(queueID: entry.id, error: "\(entry.reason); not quarantined: \(failure)"))
            } else {
                logger.log(.quarantined(queueID: entry.id, reason: entry.reason, folder: "\(spool.directory)/quarantine"))
            }
        }
        return intact
    }
}
