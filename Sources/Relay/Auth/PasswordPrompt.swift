import CCrypt
import Foundation

/// `veil passwd`: reads a password (without echo on a terminal) and makes the
/// yescrypt hash for a users file line.
public enum PasswordPrompt {
    public enum Failure: Error, CustomStringConvertible {
        case empty, mismatch, noHash

        public var description: String {
            switch self {
            case .empty: return "no password given"
            case .mismatch: return "the passwords do not match"
            case .noHash: return "libxcrypt could not make a yescrypt hash"
            }
        }
    }

    /// From the terminal: asked twice, not echoed. Otherwise the first line of stdin.
    public static func read() throws(Failure) -> String {
        guard isatty(STDIN_FILENO) == 1 else {
            guard let line = Swift.readLine(strippingNewline: true), !line.isEmpty else { throw .empty }
            return line
        }
        let first = readWithoutEcho(prompt: "Password: ")
        guard !first.isEmpty else { throw .empty }
        guard readWithoutEcho(prompt: "Again: ") == first else { throw .mismatch }
        return first
    }

    /// A yescrypt hash (`$y$...`) with a fresh salt at libxcrypt's default cost.
    public static func hash(_ password: String) throws(Failure) -> String {
        var setting = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        guard crypt_gensalt_rn("$y$", 0, nil, 0, &setting, Int32(setting.count)) != nil else { throw .noHash }
        var data = crypt_data()
        let hash = password.withCString { crypt_r($0, setting, &data).map { String(cString: $0) } }
        guard let hash, hash.hasPrefix("$y$") else { throw .noHash }
        return hash
    }

    private static func readWithoutEcho(prompt: String) -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        tcgetattr(STDIN_FILENO, &savedTerminal)
        // Ctrl-C, Ctrl-\ or a kill while the echo is off: echo back on, then exit.
        for signal in [SIGINT, SIGQUIT, SIGTERM, SIGHUP] {
            Glibc.signal(signal) { number in
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &savedTerminal)
                _exit(128 + number)
            }
        }
        var silent = savedTerminal
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &savedTerminal)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return Swift.readLine(strippingNewline: true) ?? ""
    }
}

/// The terminal settings to restore, where a signal handler can reach them.
nonisolated(unsafe) private var savedTerminal = termios()
