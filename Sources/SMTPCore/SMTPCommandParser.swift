/// Parses one command line (without its CRLF) into an ``SMTPCommand``.
///
/// Verbs are case-insensitive (RFC 5321 §2.4). A line that cannot be parsed yields
/// the reply to send instead, so the caller never has to map errors to codes.
public enum SMTPCommandParser {
    public static func parse(_ line: some Collection<UInt8>) -> Result<SMTPCommand, SMTPReply> {
        guard let text = String(validating: line, as: UTF8.self) else {
            return .failure(Replies.unknownCommand)
        }
        let verbEnd = text.firstIndex(of: " ") ?? text.endIndex
        let verb = text[..<verbEnd].asciiUppercased()
        let argument = text[verbEnd...].drop(while: { $0 == " " })

        switch verb {
        case "EHLO", "HELO":
            // ehlo = "EHLO" SP ( Domain / address-literal ) CRLF
            let name = argument.trimmingTrailingSpaces()
            // No controls or spaces: the name goes into logs and the queue.
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 32 && $0 != 127 }) else {
                return .failure(SMTPReply(501, "5.5.4", "Syntax: \(verb) hostname"))
            }
            return .success(verb == "EHLO" ? .ehlo(String(name)) : .helo(String(name)))
        case "MAIL":
            return parseMail(argument)
        case "RCPT":
            return parseRecipient(argument)
        case "DATA":
            return noArgument(.data, argument, verb)
        case "BDAT":
            return parseBDAT(argument)
        case "RSET":
            return noArgument(.rset, argument, verb)
        case "QUIT":
            return noArgument(.quit, argument, verb)
        case "STARTTLS":
            return noArgument(.startTLS, argument, verb)
        case "NOOP":
            return .success(.noop)
        case "HELP":
            return .success(.help)
        case "VRFY":
            return argument.isEmpty ? .failure(SMTPReply(501, "5.5.4", "Syntax: VRFY address")) : .success(.vrfy)
        case "AUTH":
            // auth-command = "AUTH" SP sasl-mech [SP initial-response] (RFC 4954 §4)
            let parts = argument.trimmingTrailingSpaces().split(separator: " ", omittingEmptySubsequences: true)
            guard (1...2).contains(parts.count) else {
                return .failure(SMTPReply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"))
            }
            return .success(.auth(mechanism: parts[0].asciiUppercased(), initialResponse: parts.count == 2 ? String(parts[1]) : nil))
        default:
            return .failure(Replies.unknownCommand)
        }
    }

    private static func noArgument(_ command: SMTPCommand, _ argument: Substring, _ verb: String) -> Result<SMTPCommand, SMTPReply> {
        argument.trimmingTrailingSpaces().isEmpty ? .success(command) : .failure(SMTPReply(501, "5.5.4", "Syntax: \(verb)"))
    }

    /// `mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF` (RFC 5321 §4.1.1.2).
    /// A space after the colon is tolerated, as most servers do.
    private static func parseMail(_ argument: Substring) -> Result<SMTPCommand, SMTPReply> {
        let syntax = SMTPReply(501, "5.5.4", "Syntax: MAIL FROM:<address>")
        guard let (path, parameters) = splitPath(argument, prefix: "FROM:") else { return .failure(syntax) }
        let reversePath: ReversePath
        if path.isEmpty {
            reversePath = .null
        } else {
            switch MailboxParser.parseMailbox(path) {
            case .success(let mailbox): reversePath = .mailbox(mailbox)
            case .failure: return .failure(Replies.badAddress("sender"))
            }
        }
        var result = MailParameters()
        for (keyword, value) in parameters {
            switch (keyword, value) {
            case ("SIZE", let value?):
                guard let size = Int(value), size >= 0 else { return .failure(syntax) }
                result.size = size
            case ("BODY", let value?):
                guard let body = BodyType(rawValue: value.asciiUppercased()), body != .binaryMIME else {
                    return .failure(Replies.unsupportedParameter)
                }
                result.body = body
            case ("SMTPUTF8", nil):
                result.smtpUTF8 = true
            case ("RET", let value?):
                guard let ret = DSNReturn(rawValue: value.asciiUppercased()) else { return .failure(syntax) }
                result.ret = ret
            case ("ENVID", let value?):
                guard isXtext(value), value.utf8.count <= 100 else { return .failure(syntax) }
                result.envelopeID = value
            case ("AUTH", let value?):
                result.auth = value
            default:
                return .failure(Replies.unsupportedParameter)
            }
        }
        return .success(.mail(reversePath, result))
    }

    /// `rcpt = "RCPT TO:" Forward-path [SP Rcpt-parameters] CRLF` (RFC 5321 §4.1.1.3).
    private static func parseRecipient(_ argument: Substring) -> Result<SMTPCommand, SMTPReply> {
        let syntax = SMTPReply(501, "5.5.4", "Syntax: RCPT TO:<address>")
        guard let (path, parameters) = splitPath(argument, prefix: "TO:") else { return .failure(syntax) }
        guard case .success(let mailbox) = MailboxParser.parseMailbox(path) else {
            return .failure(Replies.badAddress("recipient"))
        }
        var result = RecipientParameters()
        for (keyword, value) in parameters {
            switch (keyword, value) {
            case ("NOTIFY", let value?):
                guard let notify = Notify(value) else { return .failure(syntax) }
                result.notify = notify
            case ("ORCPT", let value?):
                // orcpt-parameter = "ORCPT=" addr-type ";" xtext (RFC 3461 §4.2)
                guard let semicolon = value.firstIndex(of: ";"), semicolon != value.startIndex,
                      value.utf8.count <= 500 else { return .failure(syntax) }
                result.originalRecipient = value
            default:
                return .failure(Replies.unsupportedParameter)
            }
        }
        return .success(.rcpt(mailbox, result))
    }

    /// `bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CRLF` (RFC 3030 §2).
    private static func parseBDAT(_ argument: Substring) -> Result<SMTPCommand, SMTPReply> {
        let syntax = SMTPReply(501, "5.5.4", "Syntax: BDAT size [LAST]")
        let parts = argument.trimmingTrailingSpaces().split(separator: " ")
        guard (1...2).contains(parts.count), parts[0].utf8.count <= 18,
              parts[0].allSatisfy(\.isASCIIDigit), let size = Int(parts[0]) else { return .failure(syntax) }
        if parts.count == 2 {
            guard parts[1].asciiUppercased() == "LAST" else { return .failure(syntax) }
            return .success(.bdat(size: size, last: true))
        }
        return .success(.bdat(size: size, last: false))
    }

    /// Splits `FROM:<path> KEY=VALUE ...` into the text inside the brackets and the
    /// parameters; nil on a syntax error.
    private static func splitPath(_ argument: Substring, prefix: String) -> (Substring, [(String, String?)])? {
        guard argument.asciiUppercased().hasPrefix(prefix) else { return nil }
        let rest = argument.dropFirst(prefix.count).drop(while: { $0 == " " })
        guard rest.first == "<", let close = closingBracket(rest) else { return nil }
        let path = rest[rest.index(after: rest.startIndex)..<close]
        let afterPath = rest[rest.index(after: close)...]
        guard afterPath.isEmpty || afterPath.first == " " else { return nil }
        var parameters: [(String, String?)] = []
        // esmtp-param = esmtp-keyword ["=" esmtp-value]
        for word in afterPath.split(separator: " ") {
            let pieces = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let keyword = pieces[0].asciiUppercased()
            guard !keyword.isEmpty, keyword.allSatisfy({ $0.isASCIILetterOrDigit || $0 == "-" }) else { return nil }
            if pieces.count == 2 {
                guard !pieces[1].isEmpty, pieces[1].unicodeScalars.allSatisfy({ $0.value > 32 && $0 != "=" && $0.value != 127 })
                else { return nil }
            }
            parameters.append((keyword, pieces.count == 2 ? String(pieces[1]) : nil))
        }
        return (path, parameters)
    }

    /// The `>` that closes the path, skipping quoted strings.
    private static func closingBracket(_ text: Substring) -> Substring.Index? {
        var inQuotes = false
        var escaped = false
        for index in text.indices.dropFirst() {
            let character = text[index]
            if escaped { escaped = false; continue }
            if inQuotes && character == "\\" { escaped = true; continue }
            if character == "\"" { inQuotes.toggle(); continue }
            if character == ">" && !inQuotes { return index }
        }
        return nil
    }

    /// `xtext = *( xchar / hexchar )` (RFC 3461 §4): printable ASCII except "+" and "=",
    /// or "+" and two upper-case hex digits.
    static func isXtext(_ value: String) -> Bool {
        var bytes = value.utf8.makeIterator()
        while let byte = bytes.next() {
            if byte == UInt8(ascii: "+") {
                guard let high = bytes.next(), let low = bytes.next(),
                      isUpperHex(high), isUpperHex(low) else { return false }
            } else if byte < 33 || byte > 126 || byte == UInt8(ascii: "=") {
                return false
            }
        }
        return true
    }

    private static func isUpperHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }
}

extension StringProtocol {
    /// Upper case for ASCII letters only: SMTP keywords are ASCII (RFC 5321 §2.4),
    /// and Unicode case mapping would read "maıl" as MAIL.
    func asciiUppercased() -> String {
        String(decoding: utf8.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }, as: UTF8.self)
    }
}

extension Substring {
    func trimmingTrailingSpaces() -> Substring {
        var result = self
        while result.last == " " { result = result.dropLast() }
        return result
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIILetterOrDigit: Bool { isASCII && (isLetter || isNumber) }
}
