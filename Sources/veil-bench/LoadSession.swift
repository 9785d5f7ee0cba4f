import SMTPCore

/// One client connection of `veil-bench load`, as an Exchange send connector talks
/// to a smart host: greeting, EHLO, then `messages` transactions on the same
/// connection, then QUIT. Per transaction MAIL and RCPT (and DATA without
/// CHUNKING) go out in one write when the server offers PIPELINING (RFC 2920), one
/// at a time otherwise; after their replies the text goes out as `BDAT n LAST`
/// when the server offers CHUNKING (RFC 3030) and `chunking` is allowed, else after
/// the 354 of DATA, ended with CRLF . CRLF. No RSET between transactions (a
/// finished transaction leaves none to reset, RFC 5321 §4.1.1.5).
///
/// Pure: the handler feeds it replies and carries out the returned actions.
struct LoadSession {
    enum Action: Equatable {
        /// Write these command lines (each without CRLF) in one write.
        case send([String])
        /// Write the message text (as BDAT n LAST or after DATA's 354); its accept
        /// latency starts now.
        case sendText(chunking: Bool)
        /// The text's 250 came: one message accepted.
        case accepted
        /// Close the connection (after QUIT's reply).
        case close
        /// A reply that was not the one expected: give up this connection.
        case fail(SMTPReply)
    }

    enum State: Equatable {
        case greeting
        case ehlo
        /// The envelope commands of the transaction; `sent` of them are out,
        /// `answered` have their reply.
        case envelope(sent: Int, answered: Int)
        case text
        case quit
        case closed
    }

    let heloName, sender, recipient: String
    let allowChunking: Bool
    private(set) var state = State.greeting
    /// Transactions still to start on this connection.
    private(set) var remaining: Int
    private var pipelining = false
    private var chunking = false

    init(messages: Int, heloName: String, sender: String, recipient: String, allowChunking: Bool) {
        self.remaining = messages
        self.heloName = heloName
        self.sender = sender
        self.recipient = recipient
        self.allowChunking = allowChunking
    }

    /// MAIL, RCPT, and DATA unless the text goes as BDAT.
    private var envelope: [String] {
        ["MAIL FROM:<\(sender)>", "RCPT TO:<\(recipient)>"] + (chunking ? [] : ["DATA"])
    }

    mutating func received(_ reply: SMTPReply) -> [Action] {
        switch state {
        case .greeting:
            guard reply.code == 220 else { return fail(reply) }
            state = .ehlo
            return [.send(["EHLO \(heloName)"])]
        case .ehlo:
            guard reply.code == 250 else { return fail(reply) }
            // RFC 5321 §4.1.1.1: the first line is the greeting, then one keyword per line.
            let keywords = Set(reply.lines.dropFirst().map { $0.split(separator: " ").first.map { $0.uppercased() } ?? "" })
            pipelining = keywords.contains("PIPELINING")
            chunking = allowChunking && keywords.contains("CHUNKING")
            return startTransaction()
        case .envelope(let sent, let answered):
            let last = answered + 1 == envelope.count
            // RFC 5321 §4.3.2: 250 for MAIL and RCPT, 354 for DATA.
            guard reply.code == (last && !chunking ? 354 : 250) else { return fail(reply) }
            if last {
                state = .text
                return [.sendText(chunking: chunking)]
            }
            state = .envelope(sent: max(sent, answered + 2), answered: answered + 1)
            return sent > answered + 1 ? [] : [.send([envelope[answered + 1]])]
        case .text:
            guard reply.code == 250 else { return fail(reply) }
            return [.accepted] + startTransaction()
        case .quit:
            state = .closed
            return [.close]
        case .closed:
            return []
        }
    }

    private mutating func startTransaction() -> [Action] {
        guard remaining > 0 else {
            state = .quit
            return [.send(["QUIT"])]
        }
        remaining -= 1
        let lines = pipelining ? envelope : [envelope[0]]
        state = .envelope(sent: lines.count, answered: 0)
        return [.send(lines)]
    }

    private mutating func fail(_ reply: SMTPReply) -> [Action] {
        state = .closed
        return [.fail(reply)]
    }
}
