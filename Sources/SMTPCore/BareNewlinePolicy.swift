/// What to do with a CR or LF that is not part of a CRLF pair (RFC 5321 §2.3.8 forbids
/// them; accepting them is what SMTP smuggling exploits).
public enum BareNewlinePolicy: String, Sendable, CaseIterable {
    /// Answer 5xx and close the connection.
    case reject
    /// Treat the bare CR or LF as a line end and store a CRLF instead.
    case normalize
}
