import Foundation

extension VeilEvent {
    /// The fields every delivery line (`delivered`, `deferred`, `bounced`, `expired`)
    /// has: one recipient's attempt.
    public struct DeliveryAttempt: Sendable, Equatable {
        public var queueID: String
        /// The recipient's address, bare (written `to=<...>`).
        public var recipient: String
        /// `mx-host[address]:25`, `[host]:port`, `mx:DOMAIN` when the MX lookup
        /// failed, or `none`.
        public var relay: String
        /// `PROTOCOL CIPHER verified|dane-ee|dane-ta|unverified`, or nil (written `none`).
        public var tls: String?
        /// The TLS policy the connection was held to (`dane`, `mta-sts`,
        /// `opportunistic`, `required`, `verify`, `none`); nil when no next hop was
        /// tried (not written).
        public var tlsPolicy: String?
        /// This recipient's attempts, this one included.
        public var attempt: Int
        /// Since the message was accepted (written `0.6s`).
        public var delay: TimeInterval
        /// The next hop's reply, or Veil's reason.
        public var reply: String

        public init(queueID: String, recipient: String, relay: String, tls: String?, tlsPolicy: String? = nil,
                    attempt: Int, delay: TimeInterval, reply: String) {
            (self.queueID, self.recipient, self.relay, self.tls, self.tlsPolicy) = (queueID, recipient, relay, tls, tlsPolicy)
            (self.attempt, self.delay, self.reply) = (attempt, delay, reply)
        }
    }
}
