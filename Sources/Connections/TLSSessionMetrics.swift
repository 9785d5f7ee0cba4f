import CoreMetrics

/// TLS sessions by direction and protocol (`veil_tls_sessions_total`), counted by
/// both sides: inbound (STARTTLS or implicit TLS) and outbound.
public enum TLSSessionMetrics {
    public enum Direction: String, Sendable {
        case inbound, outbound
    }

    public static func count(_ direction: Direction, protocol name: String) {
        Counter(label: "veil_tls_sessions_total", dimensions: [("direction", direction.rawValue), ("protocol", name)]).increment()
    }
}
