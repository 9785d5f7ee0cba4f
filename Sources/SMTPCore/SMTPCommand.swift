/// One SMTP command line, parsed (RFC 5321 §4.1.1, with the extensions Veil
/// advertises: AUTH RFC 4954, STARTTLS RFC 3207, BDAT RFC 3030).
public enum SMTPCommand: Equatable, Sendable {
    case ehlo(String)
    case helo(String)
    case mail(ReversePath, MailParameters)
    case rcpt(Mailbox, RecipientParameters)
    case data
    case bdat(size: Int, last: Bool)
    case rset
    case noop
    case quit
    case vrfy
    case help
    case startTLS
    case auth(mechanism: String, initialResponse: String?)
}

/// The sender of MAIL FROM: `<>` (null reverse-path, RFC 5321 §4.5.5) or a mailbox.
public enum ReversePath: Equatable, Sendable, CustomStringConvertible {
    case null
    case mailbox(Mailbox)

    public var description: String {
        switch self {
        case .null: return "<>"
        case .mailbox(let mailbox): return "<\(mailbox)>"
        }
    }

    public var mailbox: Mailbox? {
        if case .mailbox(let mailbox) = self { return mailbox }
        return nil
    }
}

/// `BODY=` (RFC 6152).
public enum BodyType: String, Equatable, Sendable {
    case sevenBit = "7BIT"
    case eightBitMIME = "8BITMIME"
    case binaryMIME = "BINARYMIME"
}

/// `RET=` (RFC 3461 §4.3).
public enum DSNReturn: String, Equatable, Sendable {
    case full = "FULL"
    case headers = "HDRS"
}

/// Parameters of MAIL FROM that Veil accepts and keeps with the envelope.
public struct MailParameters: Equatable, Sendable {
    public var size: Int?
    public var body: BodyType?
    public var smtpUTF8 = false
    public var ret: DSNReturn?
    /// RFC 3461 §4.4, kept in its xtext form.
    public var envelopeID: String?
    /// RFC 4954 §5 `AUTH=`; `<>` is what Exchange sends.
    public var auth: String?

    public init() {}
}

/// Parameters of RCPT TO (RFC 3461 §4.1, §4.2).
public struct RecipientParameters: Equatable, Sendable {
    public var notify: Notify?
    /// `addr-type ";" xtext`, kept as given.
    public var originalRecipient: String?

    public init() {}
}
