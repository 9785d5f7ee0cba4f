#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Read-only access to a spool that a daemon may be running on: no lock, no
/// recovery, nothing written (`veil queue list` and `show`, with or without the
/// daemon).
public final class QueueReader: Sendable {
    private let index: QueueIndex
    private let directory: String

    public init(directory: String) throws {
        let path = directory + "/queue.sqlite"
        guard access(path, R_OK) == 0 else { throw SpoolError.fromErrno("open \(path)", errno) }
        self.directory = directory
        index = try QueueIndex(readingAt: path)
    }

    /// Queued messages (of `ids`, or all), oldest first; with `history`, each
    /// recipient's attempts.
    public func entries(ids: [String]? = nil, history: Bool = false) throws -> [QueueEntry] {
        try index.entries(ids: ids, history: history)
    }

    /// The header block of a queued message as it will be sent (scrubbed).
    public func headerBlock(_ id: String) -> [UInt8]? {
        var text: [UInt8] = []
        do {
            guard let file = try MessageFileReader(path: directory + "/messages/" + id) else { return nil }
            try file.read(headerBlockOnly: true) { text += $0.readableBytesView }
        } catch {
            return nil
        }
        return text
    }
}
