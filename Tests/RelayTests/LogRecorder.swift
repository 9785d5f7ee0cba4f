import Foundation
import LogEvents
import Logging

/// A log handler for tests: keeps each line's level, event name and fields, so a
/// test asserts on the ``VeilEvent``s logged rather than on text.
final class LogRecorder: @unchecked Sendable {
    struct Line: Equatable, Sendable {
        var level: Logger.Level
        var name: String
        /// The event's own fields (not the logger's, such as a session's `client`).
        var metadata: Logger.Metadata

        init(level: Logger.Level, name: String, metadata: Logger.Metadata) {
            (self.level, self.name, self.metadata) = (level, name, metadata)
        }

        /// The line `event` makes.
        init(_ event: VeilEvent) {
            self.init(level: event.level, name: event.name, metadata: event.metadata)
        }
    }

    private let lock = NSLock()
    private var recorded: [Line] = []

    var lines: [Line] { lock.withLock { recorded } }

    /// A logger whose lines end up here, at every level.
    var logger: Logger {
        var logger = Logger(label: "test") { _ in Handler(recorder: self) }
        logger.logLevel = .trace
        return logger
    }

    /// Whether the lines logged are exactly those of `events`, in order.
    func logged(_ events: [VeilEvent]) -> Bool {
        lines == events.map(Line.init)
    }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let line = Line(level: event.level, name: "\(event.message)", metadata: event.metadata ?? [:])
            recorder.lock.withLock { recorder.recorded.append(line) }
        }
    }
}
