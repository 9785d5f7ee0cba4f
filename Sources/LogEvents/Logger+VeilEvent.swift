import Logging

extension Logger {
    /// Logs `event` at its level, with its name as the message and its fields as the
    /// metadata (built only when the level is enabled).
    @inlinable
    public func log(_ event: VeilEvent, file: String = #fileID, function: String = #function, line: UInt = #line) {
        log(level: event.level, Logger.Message(stringLiteral: event.name), metadata: event.metadata,
            file: file, function: function, line: line)
    }
}
