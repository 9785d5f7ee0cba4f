import CoreMetrics
import Delivery
import Foundation

/// The outbound side's metrics (swift-metrics; the daemon exports them).
enum DeliveryMetrics {
    /// One recipient's attempt: delivered, deferred, bounced or expired.
    static func outcome(_ event: String) {
        Counter(label: "veil_recipients_total", dimensions: [("result", event)]).increment()
    }

    /// A message's text went to a next hop: its size, and the time since it was
    /// accepted (the delay senders see).
    static func sent(bytes: Int, latency: TimeInterval) {
        Counter(label: "veil_bytes_sent_total").increment(by: bytes)
        Timer(label: "veil_delivery_latency_seconds").recordNanoseconds(Int64(max(0, latency) * 1e9))
    }

    /// A connection to a next hop under a TLS policy (`tls_policy=` of the log):
    /// `verified` (DANE or PKIX), `encrypted` (TLS, certificate unchecked), `plain`,
    /// or `failed` (TLS as the policy asked could not be set up).
    static func tlsPolicy(_ policy: String, _ report: SessionReport) {
        let result = switch (report.tls, report.tlsFailure) {
        case (let tls?, _): tls.verifiedBy == nil ? "encrypted" : "verified"
        case (nil, .some) where report.attempted == 0: "failed"
        default: "plain"
        }
        Counter(label: "veil_outbound_tls_policy_total", dimensions: [("policy", policy), ("result", result)]).increment()
    }
}
