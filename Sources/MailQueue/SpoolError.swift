/// Why a message could not be written to the queue. Every case is a temporary
/// failure for the client: it keeps the message and tries again.
public enum SpoolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// ENOSPC or EDQUOT: answered 452 4.3.1.
    case diskFull
    /// Any other failure, with the failing step for the log: answered 451 4.3.0.
    case failed(String)

    public var description: String {
        switch self {
        case .diskFull: return "disk full"
        case .failed(let what): return what
        }
    }

    static func fromErrno(_ step: String, _ code: Int32) -> SpoolError {
        code == ENOSPC || code == EDQUOT ? .diskFull : .failed("\(step): \(String(cString: strerror(code)))")
    }
}

#if canImport(Glibc)
import Glibc
#endif
