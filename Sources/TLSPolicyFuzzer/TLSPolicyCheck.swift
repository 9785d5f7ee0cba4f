import Foundation
import PolicyRecords
import SMTPCore

/// One fuzz case for what a domain publishes about TLS: any bytes as TLSA rdata
/// (RFC 6698 §2.1), and as text as an MTA-STS TXT record (RFC 8461 §3.1), an
/// MTA-STS policy (§3.2) and a TLSRPT record (RFC 8460 §3). No crash, and
///
/// - a TLSA record holds its rdata, byte for byte;
/// - of several TXT records only those of the version count, and exactly one
///   must: unrelated records change nothing, the same record twice is never valid;
/// - a valid id is 1 to 32 letters and digits; a valid TLSRPT record has
///   destinations, each once: mailboxes that RCPT TO takes back as they are,
///   https URLs with a host;
/// - an accepted policy keeps max_age within a year, lists an mx unless its mode
///   is none, reads the same from its own text, and the same with CRLF for LF;
/// - every pattern it lists permits what it names (`*.x`: `a.x`, not `x` or `a.b.x`);
/// - `permits` takes any word of the input, ignoring ASCII case and a final dot.
enum TLSPolicyCheck {
    static func run(_ input: [UInt8]) {
        checkTLSA(input)
        let text = String(decoding: input, as: UTF8.self)
        let records = Array(text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).prefix(16))
            .map { String(decoding: $0, as: UTF8.self) }
        checkSelection(text, records, parse: MTASTSRecord.init(txtRecords:), version: MTASTSRecord.version)
        checkSelection(text, records, parse: TLSReportRecord.init(txtRecords:), version: TLSReportRecord.version)
        if case .valid(let id) = MTASTSRecord(txtRecords: [text]) {
            precondition((1...32).contains(id.utf8.count) && id.utf8.allSatisfy(isAlphaDigit), "id \(id)")
        }
        if case .valid(let destinations) = TLSReportRecord(txtRecords: [text]) {
            checkDestinations(destinations)
        }
        checkPolicy(text)
    }

    static func checkTLSA(_ input: [UInt8]) {
        guard let record = TLSARecord(rdata: input) else {
            precondition(input.count < 4, "TLSA rdata of \(input.count) bytes refused")
            return
        }
        precondition([record.usage, record.selector, record.matching] + record.data == input, "TLSA rdata read wrong")
        precondition(!record.isUsable || record.usage >= 2, "a PKIX TLSA record is usable")
        precondition(record.description.hasPrefix("\(record.usage) \(record.selector) \(record.matching) "), "TLSA description")
    }

    /// RFC 8461 §3.1, RFC 8460 §3: only the records that begin with the version
    /// count, and there must be one.
    static func checkSelection<R: Equatable>(_ text: String, _ records: [String], parse: ([String]) -> R, version: String) {
        let absent = parse([])
        let once = parse([text])
        precondition(parse(["v=spf1 -all", text, version + "0; x=1"]) == once, "\(version): other records change the outcome")
        let twice = parse([text, text])
        precondition(once == absent ? twice == absent : twice == parse([version + "; a=1", version + "; b=2"]),
                     "\(version): the same record twice")
        // One record per line: the outcome is that of the one line of the version.
        let mine = records.filter { parse([$0]) != absent }
        switch mine.count {
        case 0: precondition(parse(records) == absent, "\(version): no record of the version, yet not absent")
        case 1: precondition(parse(records) == parse(mine), "\(version): one record of the version reads differently among others")
        default: precondition(parse(records) == parse([version + "; a=1"] + mine.dropFirst()), "\(version): several records")
        }
    }

    static func checkDestinations(_ destinations: [TLSReportRecord.Destination]) {
        precondition(!destinations.isEmpty && Set(destinations).count == destinations.count, "TLSRPT destinations")
        for destination in destinations {
            switch destination {
            case .mail(let mailbox):
                precondition((try? MailboxParser.parseMailbox(Substring(mailbox.description)).get()) == mailbox,
                              "mail destination \(mailbox) is not one RCPT TO takes back")
            case .https(let url):
                precondition(url.scheme?.lowercased() == "https" && url.host()?.isEmpty == false, "https destination \(url)")
            }
        }
    }

    /// Made for each case, like DKIMCheck's keyring: nothing kept in a global.
    static func example() -> MTASTSPolicy {
        try! MTASTSPolicy(text: "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n")
    }

    static func checkPolicy(_ text: String) {
        let words = text.utf8.split(whereSeparator: { " \t\r\n:;,=/@".utf8.contains($0) }).prefix(64)
            .map { String(decoding: $0, as: UTF8.self) }
        let listed = example()
        for word in words { checkPermits(listed, word) }

        let result = parse(text)
        if !text.utf8.contains(0x0D) {
            let crlf = String(decoding: text.utf8.flatMap { $0 == 0x0A ? [0x0D, 0x0A] : [$0] }, as: UTF8.self)
            switch (result, parse(crlf)) {
            case (.success(let policy), .success(let other)):
                precondition(policy.mode == other.mode && policy.mx == other.mx && policy.maxAgeSeconds == other.maxAgeSeconds
                    && policy.lines == other.lines, "a policy reads differently with CRLF")
            case (.failure(let error), .failure(let other)):
                precondition(error == other, "CRLF: \(other.reason), not \(error.reason)")
            default:
                preconditionFailure("CRLF line ends change whether a policy is accepted")
            }
        }
        guard case .success(let policy) = result else { return }
        precondition((0...MTASTSPolicy.maximumMaxAge).contains(policy.maxAgeSeconds), "max_age \(policy.maxAgeSeconds)")
        precondition(policy.mode == MTASTSPolicy.Mode.none || !policy.mx.isEmpty, "\(policy.mode) and no mx")
        precondition((try? MTASTSPolicy(text: policy.text)) == policy, "a policy reads differently from its own text")
        precondition(policy.lines.allSatisfy { !$0.utf8.contains(0x0A) && !$0.isEmpty }, "policy lines")
        for pattern in policy.mx { checkPattern(pattern) }
        for word in words { checkPermits(policy, word) }
    }

    static func parse(_ text: String) -> Result<MTASTSPolicy, MTASTSPolicy.Invalid> {
        Result { () throws(MTASTSPolicy.Invalid) in try MTASTSPolicy(text: text) }
    }

    /// RFC 8461 §4.1, for one pattern on its own.
    static func checkPattern(_ pattern: String) {
        let policy = try! MTASTSPolicy(text: "version: STSv1\nmode: enforce\nmx: \(pattern)\nmax_age: 1\n")
        var name = Substring(pattern)
        let wildcard = name.hasPrefix("*.")
        if wildcard { name = name.dropFirst(2) }
        if name.hasSuffix(".") { name = name.dropLast() }
        if wildcard {
            precondition(policy.permits(mxHost: "a.\(name)") && policy.permits(mxHost: uppercased("mx-1.\(name).")), "\(pattern) and one label more")
            precondition(!policy.permits(mxHost: String(name)) && !policy.permits(mxHost: "a.b.\(name)"), "\(pattern) and not one label more")
        } else {
            precondition(policy.permits(mxHost: String(name)) && policy.permits(mxHost: uppercased("\(name).")), "\(pattern) itself")
            precondition(!policy.permits(mxHost: "a.\(name)"), "\(pattern) and a label more")
        }
    }

    static func checkPermits(_ policy: MTASTSPolicy, _ host: String) {
        let answer = policy.permits(mxHost: host)
        precondition(policy.permits(mxHost: uppercased(host)) == answer, "permits \(host) depends on case")
        if host.utf8.last != UInt8(ascii: ".") {
            precondition(policy.permits(mxHost: host + ".") == answer, "permits \(host) depends on a final dot")
        }
    }

    static func uppercased(_ text: String) -> String {
        String(decoding: text.utf8.map { (0x61...0x7A).contains($0) ? $0 - 0x20 : $0 }, as: UTF8.self)
    }

    static func isAlphaDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }
}
