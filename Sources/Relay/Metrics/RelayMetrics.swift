import CoreMetrics
import Foundation

/// The relay's metrics (swift-metrics; exported in Prometheus text format by
/// ``MetricsService`` when `[metrics] address` is set, no-ops otherwise). Labels
/// take only a few values each: listener names, results, reply codes.
enum RelayMetrics {
    static func connection(listener: String) {
        Counter(label: "veil_connections_total", dimensions: [("listener", listener)]).increment()
    }

    static func authentication(success: Bool) {
        Counter(label: "veil_auth_total", dimensions: [("result", success ? "success" : "failure")]).increment()
    }

    /// Inbound (STARTTLS or implicit) or outbound TLS sessions, by protocol.
    static func tls(direction: String, protocol name: String) {
        Counter(label: "veil_tls_sessions_total", dimensions: [("direction", direction), ("protocol", name)]).increment()
    }

    static func accepted(bytes: Int) {
        Counter(label: "veil_messages_accepted_total").increment()
        Counter(label: "veil_bytes_received_total").increment(by: bytes)
    }

    /// A 4xx or 5xx reply to a client, by code and enhanced status (the reason).
    static func rejected(code: Int, status: String?) {
        Counter(label: "veil_rejected_total", dimensions: [("code", "\(code)"), ("status", status ?? "")]).increment()
    }

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
}
