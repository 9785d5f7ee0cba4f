import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The threads that hash AUTH passwords, apart from the pool that commits messages:
/// a flood of guesses may keep these busy, never the spool.
///
/// Half the cores (at least one), so the other half stays free for mail, and a
/// bounded queue: with `maximumPending` checks waiting (about half a second of
/// hashing at yescrypt's default cost), a new one is refused at once (454 4.7.0)
/// instead of waiting ever longer.
final class PasswordCheckPool: Sendable {
    let maximumPending: Int
    private let threads: NIOThreadPool
    private let pending = NIOLockedValueBox(0)

    init(threadCount: Int = max(1, System.coreCount / 2)) {
        self.maximumPending = 32 * threadCount
        threads = NIOThreadPool(numberOfThreads: threadCount)
        threads.start()
    }

    /// Whether `password` matches `hash`, or nil when too many checks are waiting.
    func verify(_ password: String, against hash: String, eventLoop: any EventLoop) -> EventLoopFuture<Bool>? {
        let admitted = pending.withLockedValue { count in
            guard count < maximumPending else { return false }
            count += 1
            return true
        }
        guard admitted else { return nil }
        return threads.runIfActive(eventLoop: eventLoop) {
            PasswordHash.verify(password, against: hash)
        }.always { _ in
            self.pending.withLockedValue { $0 -= 1 }
        }
    }

    func shutdown() async throws {
        try await threads.shutdownGracefully()
    }
}
