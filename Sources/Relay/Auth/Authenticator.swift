import LogEvents
import Logging
import NIOCore
import SMTPCore
import SMTPNIO

/// Checks AUTH credentials against the users file, with the per-client lockout and
/// the global AUTH rate.
///
/// Unknown users are checked against a dummy hash so that they take as long as a
/// wrong password. One log line per failure, with the client IP and the user name
/// (escaped by the log format), never the password: fail2ban can match on it.
struct Authenticator: Sendable {
    let users: UsersFile
    let failures: AuthFailureTracker
    let rate: AuthRateLimiter
    let pool: PasswordCheckPool
    let logger: Logger
    /// Same scheme and cost as the users' hashes.
    let dummyHash: String

    init(users: UsersFile, failures: AuthFailureTracker, rate: AuthRateLimiter, pool: PasswordCheckPool, logger: Logger) {
        self.users = users
        self.failures = failures
        self.rate = rate
        self.pool = pool
        self.logger = logger
        self.dummyHash = PasswordHash.dummyHash(like: users.users.values.first?.hash)
    }

    /// Refusals (locked out, too many attempts) cost no hashing at all. The order
    /// matters: a locked-out client takes no share of the global rate, and only an
    /// attempt within the rate makes the tracker remember a client.
    func authenticate(_ credentials: Credentials, mechanism: SASLMechanism, client: ClientInfo,
                      eventLoop: any EventLoop) -> EventLoopFuture<SMTPServerStateMachine.AuthenticationResult> {
        @Sendable func failed(_ reason: VeilEvent.AuthFailure) {
            logger.log(.authFailed(client: client.address, listener: client.listener, user: credentials.username,
                                   mechanism: mechanism.rawValue, reason: reason))
        }
        @Sendable func refused(_ reason: VeilEvent.AuthFailure, _ result: SMTPServerStateMachine.AuthenticationResult)
            -> SMTPServerStateMachine.AuthenticationResult {
            failed(reason)
            RelayMetrics.authentication(success: false)
            return result
        }
        if failures.isLockedOut(client.address) { return eventLoop.makeSucceededFuture(refused(.lockedOut, .lockedOut)) }
        guard rate.take() else { return eventLoop.makeSucceededFuture(refused(.rateLimited, .busy)) }
        let admission = eventLoop.makePromise(of: AuthFailureTracker.Admission.self)
        failures.begin(client.address) { admission.succeed($0) }
        return admission.futureResult.flatMap { admission in
            switch admission {
            case .lockedOut: return eventLoop.makeSucceededFuture(refused(.lockedOut, .lockedOut))
            case .tooManyWaiting: return eventLoop.makeSucceededFuture(refused(.inFlight, .busy))
            case .allowed: break
            }
            let user = users.users[credentials.username]
            guard let check = pool.verify(credentials.password, against: user?.hash ?? dummyHash, eventLoop: eventLoop) else {
                failures.finish(client.address, failed: false)
                return eventLoop.makeSucceededFuture(refused(.rateLimited, .busy))
            }
            return check.map { matches in
                if let user, matches {
                    failures.finish(client.address, failed: false)
                    logger.log(.authOK(client: client.address, listener: client.listener, user: credentials.username,
                                       mechanism: mechanism.rawValue))
                    RelayMetrics.authentication(success: true)
                    return .success(AuthenticatedUser(name: user.name, allowedDomains: user.allowedDomains))
                }
                failed(user == nil ? .unknownUser : .badPassword)
                RelayMetrics.authentication(success: false)
                if failures.finish(client.address, failed: true) {
                    // An IPv6 client is locked out with its whole ipv6_prefix network.
                    let key = failures.key(client.address)
                    logger.log(.authLockout(client: client.address, listener: client.listener,
                                            network: key.isNetwork ? "\(key)" : nil))
                }
                return .invalidCredentials
            }.recover { _ in
                // The pool is shutting down.
                failures.finish(client.address, failed: false)
                return .busy
            }
        }
    }
}
