#if canImport(Glibc)
import Glibc
#endif
import LogEvents
import Logging
import NIOConcurrencyHelpers
import SMTPCore

/// `[limits] min_free_space`: new mail is refused with 452 4.3.1 (RFC 5321
/// §4.5.3.1.9, RFC 3463 "mail system full") while the spool's file system has less
/// free, so that the space left goes to what is already accepted: its delivery
/// attempts and its bounces. Asked at every MAIL; statvfs(3) is cheap.
///
/// Logs `disk_space_low` when the free space drops below the minimum and
/// `disk_space_ok` when it is back, not once per refused MAIL (each of those is a
/// `rejected` line).
final class FreeSpaceGuard: Sendable {
    private let directory: String
    private let logger: Logger
    private let low = NIOLockedValueBox(false)

    init(directory: String, logger: Logger) {
        self.directory = directory
        self.logger = logger
    }

    /// 452 4.3.1 when fewer than `minimum` bytes are free; nil otherwise (and when
    /// the file system cannot be asked: the write itself then reports a full disk).
    func refusal(minimum: Int) -> SMTPReply? {
        guard minimum > 0, let free = Self.freeBytes(directory) else { return nil }
        let isLow = free < minimum
        let changed = low.withLockedValue { low in
            defer { low = isLow }
            return low != isLow
        }
        if changed {
            logger.log(isLow ? .diskSpaceLow(spool: directory, free: free, minimum: minimum)
                             : .diskSpaceOK(spool: directory, free: free, minimum: minimum))
        }
        return isLow ? Replies.diskFull : nil
    }

    /// Bytes available to an unprivileged user on the file system of `path`.
    static func freeBytes(_ path: String) -> Int? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        let (bytes, overflow) = Int(stats.f_bavail).multipliedReportingOverflow(by: Int(stats.f_frsize))
        return overflow ? Int.max : bytes
    }
}
