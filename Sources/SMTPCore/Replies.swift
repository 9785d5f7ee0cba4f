/// Replies used in more than one place, so that the same situation always gets the
/// same code and text.
public enum Replies {
    public static let ok = SMTPReply(250, "2.0.0", "Ok")
    public static let unknownCommand = SMTPReply(500, "5.5.2", "Error: command not recognized")
    public static let lineTooLong = SMTPReply(500, "5.5.6", "Error: line too long")
    public static let unsupportedParameter = SMTPReply(555, "5.5.4", "Unsupported option")
    public static let bareNewline = SMTPReply(554, "5.5.2", "Error: bare CR or LF received; lines must end in CRLF")
    public static let httpRequest = SMTPReply(554, "5.7.0", "Error: this is an SMTP server, not a web server")
    public static let messageTooBig = SMTPReply(552, "5.3.4", "Error: message size exceeds the fixed maximum")
    public static let storageFailure = SMTPReply(451, "4.3.0", "Error: could not store the message, try again later")
    public static let diskFull = SMTPReply(452, "4.3.1", "Error: insufficient system storage")

    public static func badAddress(_ role: String) -> SMTPReply {
        SMTPReply(553, "5.1.3", "Error: \(role) address not allowed")
    }
}
