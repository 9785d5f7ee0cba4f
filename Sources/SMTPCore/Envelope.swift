/// A recipient with its DSN parameters (RFC 3461).
public struct Recipient: Sendable, Equatable {
    public var mailbox: Mailbox
    public var parameters: RecipientParameters

    public init(mailbox: Mailbox, parameters: RecipientParameters) {
        self.mailbox = mailbox
        self.parameters = parameters
    }
}

/// The SMTP envelope of one transaction, plus what the session knows about the
/// client that the queue keeps for logs and DSNs.
public struct Envelope: Sendable, Equatable {
    public var sender: ReversePath
    public var parameters: MailParameters
    public var recipients: [Recipient] = []
    /// The EHLO/HELO name the client gave.
    public var clientName: String
    public var authenticatedUser: String?
    /// "ESMTP", "ESMTPS", "ESMTPA" or "ESMTPSA" (RFC 3848), for the trace header.
    public var protocolName: String

    public init(sender: ReversePath, parameters: MailParameters, clientName: String,
                authenticatedUser: String?, protocolName: String) {
        self.sender = sender
        self.parameters = parameters
        self.clientName = clientName
        self.authenticatedUser = authenticatedUser
        self.protocolName = protocolName
    }
}

/// A user who passed AUTH, with the sender domains it may use (nil: any).
public struct AuthenticatedUser: Sendable, Equatable {
    public var name: String
    public var allowedDomains: [String]?

    public init(name: String, allowedDomains: [String]?) {
        self.name = name
        self.allowedDomains = allowedDomains
    }

    /// Entries are exact domains; `*.example.com` allows every subdomain of example.com.
    public func mayUse(domain: String) -> Bool {
        guard let allowedDomains else { return true }
        let domain = domain.lowercased()
        return allowedDomains.contains { entry in
            if entry.hasPrefix("*.") {
                return domain.hasSuffix(entry.dropFirst(1))
            }
            return entry == domain
        }
    }
}
