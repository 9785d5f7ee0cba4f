/// Credentials sent with AUTH PLAIN or AUTH LOGIN. `password` is a secret: it must
/// never be logged or kept longer than the check needs.
public struct Credentials: Sendable, Equatable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
}

/// The SASL mechanisms Veil offers (RFC 4954 §4).
public enum SASLMechanism: String, Sendable {
    case plain = "PLAIN"
    case login = "LOGIN"
}

/// Decoders for the SASL messages, which arrive base64-encoded.
public enum SASL {
    /// `message = [authzid] UTF8NUL authcid UTF8NUL passwd` (RFC 4616 §2).
    /// Veil accepts an authzid only when it is empty or names the same user.
    public static func decodePlain(_ response: some StringProtocol) -> Credentials? {
        guard let bytes = Base64.decode(response) else { return nil }
        let fields = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3,
              let authzid = String(validating: fields[0], as: UTF8.self),
              let authcid = String(validating: fields[1], as: UTF8.self),
              let password = String(validating: fields[2], as: UTF8.self),
              !authcid.isEmpty, !password.isEmpty, !password.utf8.contains(0),
              authzid.isEmpty || authzid == authcid
        else { return nil }
        return Credentials(username: authcid, password: password)
    }

    /// One base64 field of AUTH LOGIN (the user name, then the password).
    public static func decodeLoginField(_ response: some StringProtocol) -> String? {
        guard let bytes = Base64.decode(response), !bytes.isEmpty, !bytes.contains(0) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The AUTH LOGIN prompts, base64 of "Username:" and "Password:".
    public static let loginUsernamePrompt = Base64.encode("Username:".utf8)
    public static let loginPasswordPrompt = Base64.encode("Password:".utf8)
}
