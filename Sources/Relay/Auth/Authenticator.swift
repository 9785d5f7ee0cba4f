import Logging
import NIOCore
import NIOPosix
import SMTPCore
import SMTPNIO

/// Checks AUTH credentials against the users file, with the per-IP lockout.
///
/// Unknown users are checked against a dummy hash so that they take as long as a
/// wrong password. One log line per failure, with the client IP and the user name
/// (escaped by the log format), never the password: fail2ban can match on it.
struct Authenticator: Sendable {
    let users: UsersFile
    let failures: AuthFailureTracker
    let threadPool: NIOThreadPool
    let logger: Logger
    /// Same scheme and cost as the users' hashes.
    let dummyHash: String

    init(users: UsersFile, failures: AuthFailureTracker, threadPool: NIOThreadPool, logger: Logger) {
        self.users = users
        self.failures = failures
        self.threadPool = threadPool
        self.logger = logger
        self.dummyHash = PasswordHash.dummyHash(like: users.users.values.first?.hash)
    }

    func authenticate(_ credentials: Credentials, mechanism: SASLMechanism, client: ClientInfo,
                      eventLoop: any EventLoop) -> EventLoopFuture<SMTPServerStateMachine.AuthenticationResult> {
        let metadata: Logger.Metadata = [
            "client": "\(client.address)", "listener": "\(client.listener)",
            "user": "\(credentials.username)", "mechanism": "\(mechanism.rawValue)",
        ]
        // A locked-out address costs no hashing at all.
        if failures.isLockedOut(client.address) {
            logger.warning("auth_failed", metadata: metadata.merging(["reason": "locked_out"]) { $1 })
            RelayMetrics.authentication(success: false)
            return eventLoop.makeSucceededFuture(.lockedOut)
        }
        return threadPool.runIfActive(eventLoop: eventLoop) {
            let user = users.users[credentials.username]
            let matches = PasswordHash.verify(credentials.password, against: user?.hash ?? dummyHash)
            if let user, matches {
                logger.info("auth_ok", metadata: metadata)
                RelayMetrics.authentication(success: true)
                return .success(AuthenticatedUser(name: user.name, allowedDomains: user.allowedDomains))
            }
            let reason: Logger.MetadataValue = user == nil ? "unknown_user" : "bad_password"
            logger.warning("auth_failed", metadata: metadata.merging(["reason": reason]) { $1 })
            RelayMetrics.authentication(success: false)
            if failures.recordFailure(client.address) {
                var lockout: Logger.Metadata = ["client": "\(client.address)", "listener": "\(client.listener)"]
                // An IPv6 client is locked out with its whole ipv6_prefix network.
                let key = failures.key(client.address)
                if key.isNetwork { lockout["network"] = "\(key)" }
                logger.warning("auth_lockout", metadata: lockout)
            }
            return .invalidCredentials
        }
    }
}
