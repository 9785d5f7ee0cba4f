import CoreMetrics

/// The inbound side's metrics (swift-metrics; exported with the outbound side's
/// and TLS sessions' in Prometheus text format by ``MetricsService`` when
/// `[metrics] address` is set, no-ops otherwise). Labels take only a few values
/// each: listener names, results, reply codes.
enum RelayMetrics {
    static func connection(listener: String) {
        Counter(label: "veil_connections_total", dimensions: [("listener", listener)]).increment()
    }

    static func authentication(success: Bool) {
        Counter(label: "veil_auth_total", dimensions: [("result", success ? "success" : "failure")]).increment()
    }

    static func accepted(bytes: Int) {
        Counter(label: "veil_messages_accepted_total").increment()
        Counter(label: "veil_bytes_received_total").increment(by: bytes)
    }

    /// A 4xx or 5xx reply to a client, by code and enhanced status (the reason).
    static func rejected(code: Int, status: String?) {
        Counter(label: "veil_rejected_total", dimensions: [("code", "\(code)"), ("status", status ?? "")]).increment()
    }
}
