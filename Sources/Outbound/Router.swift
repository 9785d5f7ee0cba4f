import Delivery
import MailQueue
import SMTPCore

/// Decides where recipients go: a `[[delivery.domain]]` route, the smarthost, or
/// the domain's MX hosts; and packs due messages into sessions per next hop.
public struct Router: Sendable {
    /// Where a session goes.
    public enum NextHop: Sendable, Hashable, CustomStringConvertible {
        /// A fixed host and port (route or smarthost), no MX lookup.
        case fixed(host: String, port: Int)
        /// The MX hosts of a domain, port 25.
        case mx(domain: String)

        public var description: String {
            switch self {
            case .fixed(let host, let port): return "[\(host)]:\(port)"
            case .mx(let domain): return "mx:\(domain)"
            }
        }
    }

    public struct Session: Sendable {
        public var hop: NextHop
        public var client: SMTPClientStateMachine.Configuration
        /// The TLS policy in force for this hop.
        public var policy: TLSPolicy
        public var jobs: [DeliveryJob]
    }

    private let table: RoutingTable

    public init(_ table: RoutingTable) {
        self.table = table
    }

    /// The next hop and TLS policy for a domain. Routes are compared in their ASCII
    /// form (IDNA), so `bücher.example`, `BÜCHER.example`, its decomposed spelling
    /// and `xn--bcher-kva.example` all find the route of any of them. A domain with
    /// no ASCII form matches no route; the MX lookup refuses it.
    public func hop(for domain: String) -> (NextHop, TLSPolicy, smarthost: Bool) {
        let ascii = table.domains.isEmpty ? nil : try? IDNA.toASCII(domain)
        let route = ascii.flatMap { ascii in table.domains.first { $0.domain == ascii } }
        if let hop = route?.route {
            return (.fixed(host: hop.host, port: hop.port), route?.tls ?? table.tls, false)
        }
        if let smarthost = table.smarthost {
            // A smarthost with AUTH is never used without TLS (RFC 4954 §4); a
            // stronger policy (verify) stays as it is.
            let policy = route?.tls ?? table.tls
            let unencrypted: Set<TLSPolicy> = [.none, .opportunistic, .dane]
            let raised = table.smarthostCredentials != nil && unencrypted.contains(policy) ? .required : policy
            return (.fixed(host: smarthost.host, port: smarthost.port), raised, true)
        }
        return (.mx(domain: domain), route?.tls ?? table.tls, false)
    }

    /// Splits each job's recipients by hop and packs the pieces into sessions of at
    /// most `messagesPerConnection` messages, at most `perHop` sessions per hop
    /// (the rest waits for the next pass).
    public func sessions(for jobs: [DeliveryJob], messagesPerConnection: Int, perHop: Int) -> [Session] {
        var byHop: [String: (hop: NextHop, tls: TLSPolicy, smarthost: Bool, jobs: [DeliveryJob])] = [:]
        var order: [String] = []
        for job in jobs {
            var pieces: [String: DeliveryJob] = [:]
            for recipient in job.recipients {
                let (hop, tls, smarthost) = hop(for: recipient.domain)
                let key = "\(hop)|\(tls.rawValue)"
                if byHop[key] == nil {
                    byHop[key] = (hop, tls, smarthost, [])
                    order.append(key)
                }
                pieces[key, default: job.with(recipients: [])].recipients.append(recipient)
            }
            for (key, piece) in pieces { byHop[key]!.jobs += Self.transactions(of: piece) }
        }
        var sessions: [Session] = []
        for key in order {
            let entry = byHop[key]!
            let client = SMTPClientStateMachine.Configuration(
                heloName: table.heloName, ownNames: [table.hostname], tls: Self.clientPolicy(entry.tls),
                credentials: entry.smarthost ? table.smarthostCredentials : nil)
            var start = 0
            var sessionsForHop = 0
            while start < entry.jobs.count && sessionsForHop < perHop {
                sessionsForHop += 1
                var end = min(start + messagesPerConnection, entry.jobs.count)
                // The pieces of one message (over 1000 recipients) stay in one session.
                while end < entry.jobs.count && entry.jobs[end].queueID == entry.jobs[end - 1].queueID { end += 1 }
                sessions.append(Session(hop: entry.hop, client: client, policy: entry.tls,
                                        jobs: Array(entry.jobs[start..<end])))
                start = end
            }
        }
        return sessions
    }

    /// The shares of `jobs` that go to the same hop, with the same TLS policy, as
    /// `session` (to send on its connection).
    public func pieces(of jobs: [DeliveryJob], for session: Session) -> [DeliveryJob] {
        jobs.flatMap { job in
            let recipients = job.recipients.filter { recipient in
                let (hop, tls, _) = hop(for: recipient.domain)
                return hop == session.hop && tls == session.policy
            }
            return recipients.isEmpty ? [] : Self.transactions(of: job.with(recipients: recipients))
        }
    }

    /// Recipients per transaction: the most a server must take is 100 (RFC 5321
    /// §4.5.3.1.8); common servers take 1000 or more, and those that take fewer
    /// answer 452 for the rest, which are tried again later.
    static let maximumRecipientsPerTransaction = 1000

    /// A message's piece for one hop as transactions of at most 1000 recipients.
    static func transactions(of piece: DeliveryJob) -> [DeliveryJob] {
        guard piece.recipients.count > maximumRecipientsPerTransaction else { return [piece] }
        return stride(from: 0, to: piece.recipients.count, by: maximumRecipientsPerTransaction).map { start in
            piece.with(recipients: Array(piece.recipients[start..<min(start + maximumRecipientsPerTransaction, piece.recipients.count)]))
        }
    }

    /// The state machine's policy before a host is chosen; each connection's own
    /// requirement (``HostTLSPolicy``) replaces it.
    static func clientPolicy(_ policy: TLSPolicy) -> SMTPClientStateMachine.TLSPolicy {
        switch policy {
        case .none: return .none
        case .opportunistic, .dane: return .opportunistic
        case .required, .verify, .daneOnly: return .required
        }
    }

    /// The envelope of a queued message, for the recipients of one job.
    public static func transaction(for job: DeliveryJob) -> SMTPClientStateMachine.Transaction {
        var parameters = MailParameters()
        parameters.size = job.size
        parameters.body = job.body
        parameters.smtpUTF8 = job.smtpUTF8
        parameters.ret = job.ret
        parameters.envelopeID = job.envelopeID
        let sender: ReversePath = job.sender.isEmpty ? .null : .mailbox(Self.mailbox(job.sender))
        // One recipient per job recipient, in order: results come back by index.
        let recipients = job.recipients.map { recipient in
            var recipientParameters = RecipientParameters()
            recipientParameters.notify = recipient.notify
            recipientParameters.originalRecipient = recipient.originalRecipient
            return Recipient(mailbox: Self.mailbox(recipient.address), parameters: recipientParameters)
        }
        return .init(sender: sender, parameters: parameters, recipients: recipients)
    }

    /// Addresses in the index were parsed at RCPT/MAIL: `local@domain`.
    public static func mailbox(_ address: String) -> Mailbox {
        guard let at = address.lastIndex(of: "@") else { return Mailbox(localPart: address, domain: "") }
        return Mailbox(localPart: String(address[..<at]), domain: String(address[address.index(after: at)...]))
    }
}

extension Router.Session: DeliveryPlanner.Candidate {
    public var hopName: String { hop.description }
    public var queueIDs: [String] { jobs.map(\.queueID) }
}
