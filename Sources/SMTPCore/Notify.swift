/// The NOTIFY parameter of RCPT (RFC 3461 §4.1): "NEVER", or a comma list of
/// SUCCESS, FAILURE and DELAY, the conditions under which the sender wants a
/// delivery status notification.
public struct Notify: Equatable, Sendable, CustomStringConvertible {
    public enum Condition: String, Sendable {
        case success = "SUCCESS"
        case failure = "FAILURE"
        case delay = "DELAY"
    }

    /// In the order given (a next hop gets them as they came); empty for NEVER.
    public let conditions: [Condition]

    /// Parses the value in any case; nil when it is not valid.
    public init?(_ text: some StringProtocol) {
        let items = text.asciiUppercased().split(separator: ",", omittingEmptySubsequences: false)
        if items == ["NEVER"] {
            conditions = []
            return
        }
        let conditions = items.compactMap { Condition(rawValue: String($0)) }
        guard !items.isEmpty, conditions.count == items.count else { return nil }
        self.conditions = conditions
    }

    public func contains(_ condition: Condition) -> Bool {
        conditions.contains(condition)
    }

    /// The parameter's value, upper-cased: "NEVER" or "SUCCESS,FAILURE".
    public var description: String {
        conditions.isEmpty ? "NEVER" : conditions.map(\.rawValue).joined(separator: ",")
    }
}
