/// What `veil queue` and `veil tls report` ask the daemon over the control socket:
/// one JSON object per connection, one JSON object back.
public struct ControlRequest: Codable, Sendable, Equatable {
    public enum Command: String, Codable, Sendable {
        case flush, hold, release, delete, bounce
        /// Send the TLS reports of every day counted, today's so far included.
        case tlsReport = "tls-report"
    }

    public var command: Command
    /// The queue ids; for flush, empty means every deferred message; none for tls-report.
    public var ids: [String]

    public init(command: Command, ids: [String]) {
        self.command = command
        self.ids = ids
    }
}

public struct ControlResponse: Codable, Sendable, Equatable {
    /// False when any id could not be changed.
    public var ok: Bool
    /// One line per id (or a summary), for the administrator.
    public var lines: [String]

    public init(ok: Bool, lines: [String]) {
        self.ok = ok
        self.lines = lines
    }
}
