extension VeilEvent {
    /// Why AUTH was refused (`reason=` of `auth_failed`).
    public enum AuthFailure: String, Sendable, Equatable {
        /// No such user (checked against a dummy hash all the same).
        case unknownUser = "unknown_user"
        case badPassword = "bad_password"
        /// The client (or its IPv6 network) is locked out: no password check.
        case lockedOut = "locked_out"
        /// Too many attempts of this client wait for a check already.
        case inFlight = "in_flight"
        /// Beyond `[auth] max_attempts_per_second`, or the hashing queue is full.
        case rateLimited = "rate_limited"
    }
}
