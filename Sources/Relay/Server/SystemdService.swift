import CSystemd
import Foundation
import MailQueue
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Keeps systemd informed (Type=notify, sd_notify(3)): WATCHDOG=1 at half of
/// WatchdogSec, sent only once every event loop has run a task (a stuck loop
/// gets the daemon restarted), and a STATUS= line with the queue every 10 s.
/// Only runs when systemd started the daemon with NOTIFY_SOCKET.
final class SystemdService: Service {
    private let group: any EventLoopGroup
    private let spool: Spool
    private let threadPool: NIOThreadPool
    static let statusInterval = Duration.seconds(10)

    init(group: any EventLoopGroup, spool: Spool, threadPool: NIOThreadPool) {
        self.group = group
        self.spool = spool
        self.threadPool = threadPool
    }

    static var isNotifying: Bool {
        ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] != nil
    }

    func run() async throws {
        var microseconds: UInt64 = 0
        let watchdog = sd_watchdog_enabled(0, &microseconds) > 0 ? Duration.microseconds(Int64(microseconds / 2)) : nil
        let interval = min(watchdog ?? Self.statusInterval, Self.statusInterval)
        var sinceStatus = Self.statusInterval
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if watchdog != nil {
                let loops = group.makeIterator().map { $0.submit {} }
                try? await EventLoopFuture.andAllSucceed(loops, on: group.any()).get()
                SystemdNotifier.notify("WATCHDOG=1")
            }
            if sinceStatus >= Self.statusInterval {
                sinceStatus = .zero
                // Not awaited: a busy thread pool must not hold up the watchdog.
                Task { await self.status() }
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            sinceStatus += interval
        }
    }

    /// "STATUS=accepting mail; queue: 12 messages (3 deferred recipients, 1 held)".
    private func status() async {
        let spool = self.spool
        guard let summary = try? await threadPool.runIfActive({ try spool.summary() }) else { return }
        let deferred = summary.recipients[.deferred, default: 0]
        SystemdNotifier.notify("STATUS=accepting mail; queue: \(summary.messages) messages (\(deferred) deferred recipients, \(summary.held) held)")
    }
}
