import CUnbound

/// DNS lookups through libunbound: forwarders from `[dns] servers` (such as
/// `127.0.0.1@5353`), or /etc/resolv.conf. With a trust anchor, answers are
/// validated (DNSSEC, RFC 4035): each says whether it came through a secure chain,
/// and a bogus one is a temporary failure. Queries block, so they run on a thread
/// pool; the context is shared and thread-safe.
public final class DNSResolver: @unchecked Sendable {
    public enum Answer: Sendable, Equatable {
        /// The rdata of each record, in wire format.
        case records([[UInt8]])
        /// The name exists but has no record of the type (NOERROR, no data).
        case noData
        /// The name does not exist (NXDOMAIN).
        case nameError
        /// SERVFAIL, a timeout, a bogus DNSSEC answer: try again later.
        case temporaryFailure(String)
    }

    public enum RecordType: Int32, Sendable {
        case a = 1
        case mx = 15
        case txt = 16
        case aaaa = 28
        /// RFC 4034 §2.
        case dnskey = 48
        /// RFC 6698 §7.1.
        case tlsa = 52
    }

    /// An answer and whether DNSSEC proved it (RFC 4035 §4.3 "secure"): the records,
    /// or their absence, signed all the way from the trust anchor. False without a
    /// trust anchor, and for names under an insecure delegation.
    public struct Lookup: Sendable, Equatable {
        public var answer: Answer
        public var secure: Bool
        /// The name the answer is for after CNAMEs (RFC 7672 §2.2.2 needs it), when
        /// it differs from the one asked.
        public var canonicalName: String?

        public init(answer: Answer, secure: Bool, canonicalName: String? = nil) {
            (self.answer, self.secure, self.canonicalName) = (answer, secure, canonicalName)
        }
    }

    private let context: OpaquePointer

    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
        /// The trust anchor file is what is wrong (not the servers).
        public var trustAnchor = false
    }

    /// `trustAnchorFile`: DS or DNSKEY records in zone file form (such as Debian's
    /// /usr/share/dns/root.key); nil: no validation.
    public init(servers: [String], trustAnchorFile: String? = nil) throws {
        guard let context = ub_ctx_create() else { throw SetupError(description: "ub_ctx_create failed") }
        self.context = context
        // Threads, not forked processes, for the resolver's own work; it must be set
        // before the first query.
        _ = ub_ctx_async(context, 1)
        if servers.isEmpty {
            let status = ub_ctx_resolvconf(context, nil)
            guard status == 0 else { throw SetupError(description: "/etc/resolv.conf: \(Self.text(status))") }
        } else {
            // Forwarders on this machine (a local unbound or dnsmasq) are allowed.
            _ = ub_ctx_set_option(context, "do-not-query-localhost:", "no")
            for server in servers {
                let status = ub_ctx_set_fwd(context, server)
                guard status == 0 else { throw SetupError(description: "forwarder \(server): \(Self.text(status))") }
            }
        }
        if let trustAnchorFile {
            let status = ub_ctx_add_ta_file(context, trustAnchorFile)
            guard status == 0 else {
                throw SetupError(description: "trust anchor \(trustAnchorFile): \(Self.text(status))", trustAnchor: true)
            }
        }
    }

    deinit {
        ub_ctx_delete(context)
    }

    /// One query, blocking until the answer (or unbound's own timeout).
    public func query(_ name: String, _ type: RecordType) -> Answer {
        lookup(name, type).answer
    }

    /// One query with its DNSSEC status. A bogus answer (RFC 4035 §5.5) carries
    /// data, but it is a temporary failure: its records are never used.
    public func lookup(_ name: String, _ type: RecordType) -> Lookup {
        var result: UnsafeMutablePointer<ub_result>?
        let status = ub_resolve(context, name, type.rawValue, 1 /* IN */, &result)
        guard status == 0, let result else { return Lookup(answer: .temporaryFailure(Self.text(status)), secure: false) }
        defer { ub_resolve_free(result) }
        let answer = result.pointee
        if answer.bogus != 0 {
            let why = answer.why_bogus.map { String(cString: $0) } ?? "no reason given"
            return Lookup(answer: .temporaryFailure("DNSSEC validation failed: \(why)"), secure: false)
        }
        let secure = answer.secure != 0
        // Compared without case and the final dot: libunbound may give the name asked.
        func plain(_ name: String) -> String {
            let lower = name.lowercased()
            return lower.hasSuffix(".") ? String(lower.dropLast()) : lower
        }
        let canonical = answer.canonname.map { String(cString: $0) }.flatMap { plain($0) == plain(name) ? nil : $0 }
        return Lookup(answer: Self.answer(answer), secure: secure, canonicalName: canonical)
    }

    private static func answer(_ answer: ub_result) -> Answer {
        if answer.nxdomain != 0 { return .nameError }
        guard answer.rcode == 0 else { return .temporaryFailure("rcode \(answer.rcode)") }
        guard answer.havedata != 0 else { return .noData }
        var records: [[UInt8]] = []
        var index = 0
        while let data = answer.data[index] {
            let length = Int(answer.len[index])
            records.append(data.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) })
            index += 1
        }
        return .records(records)
    }

    /// The text of a TXT record's rdata (RFC 1035 §3.3.14): its strings, each led
    /// by its length, joined (as RFC 6376 §3.6.2.2 and RFC 7208 §3.3 read them).
    /// Nil when a length runs past the end.
    public static func joinedText(_ rdata: [UInt8]) -> String? {
        var text: [UInt8] = []
        var index = 0
        while index < rdata.count {
            let length = Int(rdata[index])
            guard index + 1 + length <= rdata.count else { return nil }
            text += rdata[(index + 1)..<(index + 1 + length)]
            index += 1 + length
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func text(_ status: Int32) -> String {
        ub_strerror(status).map { String(cString: $0) } ?? "error \(status)"
    }
}
