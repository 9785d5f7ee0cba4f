/// `veil serve` does not run as root (issue 13): the daemon parses mail and TLS from
/// the Internet, and as root a flaw in that code would own the machine. systemd's
/// unit starts it as `User=veil` with only CAP_NET_BIND_SERVICE; a unit without
/// `User=` runs it as root and is refused the same way (the check is the effective
/// uid, whoever started the process).
public enum RootGuard {
    /// The environment variable that lets development and test runs (`make run`, the
    /// end-to-end tests, the benchmarks, which run as root in CI) start as root.
    public static let allowVariable = "VEIL_ALLOW_ROOT"

    public enum Decision: Equatable, Sendable {
        case proceed
        /// Root, allowed by VEIL_ALLOW_ROOT=1: go on, saying so once.
        case proceedAsRoot(warning: String)
        case refuse(reason: String)
    }

    /// What to do for a process with effective uid `euid` and `environment`.
    public static func decide(euid: UInt32, environment: [String: String]) -> Decision {
        guard euid == 0 else { return .proceed }
        if environment[allowVariable] == "1" {
            return .proceedAsRoot(warning: "running as root because \(allowVariable)=1 is set: for development and tests only, never in production")
        }
        return .refuse(reason: """
            refusing to run as root (effective uid 0): the daemon handles mail and TLS from the network, \
            and as root any flaw in that code would own the machine. Start it with systemd/veil.service, \
            which runs it as User=veil (a unit without User= runs it as root), or as an unprivileged user \
            from a shell. For development and tests only, \(allowVariable)=1 allows root.
            """)
    }
}
