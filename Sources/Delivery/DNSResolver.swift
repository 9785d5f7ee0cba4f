import CUnbound

/// DNS lookups through libunbound: forwarders from `[dns] servers` (such as
/// `127.0.0.1@5353`), or /etc/resolv.conf. Queries block, so they run on a thread
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
    }

    private let context: OpaquePointer

    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(servers: [String]) throws {
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
    }

    deinit {
        ub_ctx_delete(context)
    }

    /// One query, blocking until the answer (or unbound's own timeout).
    public func query(_ name: String, _ type: RecordType) -> Answer {
        var result: UnsafeMutablePointer<ub_result>?
        let status = ub_resolve(context, name, type.rawValue, 1 /* IN */, &result)
        guard status == 0, let result else { return .temporaryFailure(Self.text(status)) }
        defer { ub_resolve_free(result) }
        let answer = result.pointee
        if answer.bogus != 0 { return .temporaryFailure("DNSSEC validation failed") }
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
