/// The `Action` of a recipient in a delivery status notification (RFC 3464
/// §2.3.3), of those Veil reports. It sends no `delayed` notices, and `delivered`
/// and `expanded` are for final delivery and mailing lists, which it does not do.
public enum DSNAction: String, Sendable, Equatable, CustomStringConvertible {
    /// Given up on: bounced or expired.
    case failed
    /// Handed to a next hop that cannot pass the NOTIFY request on (RFC 3461 §5.2.2).
    case relayed

    public var description: String { rawValue }
}
