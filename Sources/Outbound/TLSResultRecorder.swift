import Delivery
import Foundation
import MailQueue
import NIOPosix
import TLSReporting

/// Counts what each connection to an MX host tells a TLS report (RFC 8460 §4): the
/// policy it was held to and whether TLS was set up as that policy asked. Kept per
/// day in the queue database until the reports are sent.
struct TLSResultRecorder: Sendable {
    let spool: Spool
    let threadPool: NIOThreadPool

    /// What Veil knew of the destination when it chose a host.
    struct Destination: Sendable {
        /// The recipient domain, in A-labels.
        var domain: String
        var sts: MTASTSPolicies.Found?
    }

    /// One session's result, nil when it says nothing about TLS (no connection, or
    /// an SMTP refusal before TLS was at stake).
    static func result(_ destination: Destination, host: MXResolver.Host, address: String?, policy: HostTLSPolicy?,
                       skipped: String?, report: SessionReport?) -> TLSSessionResult? {
        var result = TLSSessionResult(
            policyDomain: destination.domain, policyType: .noPolicyFound, policyStrings: [], mxHosts: [],
            sendingMTAIP: report?.localAddress ?? "", receivingMXHostname: host.name,
            // A host left out before any connection: the address it would have had.
            receivingIP: address ?? host.addresses.first ?? "",
            resultType: nil)
        // §4.3.1: the policy in force; DANE's policy domain is the TLSA base domain.
        if policy?.name == "dane" || skipped?.hasPrefix("TLSA lookup") == true || skipped?.hasPrefix("dane-only") == true {
            result.policyType = .tlsa
            result.policyDomain = host.name
            if case .dane(let records, _)? = policy?.requirement { result.policyStrings = records.map(\.description) }
        } else if let sts = destination.sts?.policy, sts.mode != .none {
            result.policyType = .sts
            result.policyStrings = sts.lines
            result.mxHosts = sts.mx
        } else if let failure = destination.sts?.failure {
            result.policyType = .sts
            result.resultType = failure.type
            result.failureReasonCode = failure.reason
            return result
        }
        if let skipped {
            switch true {
            case skipped.hasPrefix("dane-only"): result.resultType = .daneRequired
            case skipped.contains("DNSSEC validation failed"): result.resultType = .dnssecInvalid
            case skipped.hasPrefix("mta-sts"): result.resultType = .validationFailure
            default: return nil
            }
            result.failureReasonCode = skipped
            return result
        }
        guard let report else { return nil }
        switch report.tlsFailure {
        case .starttlsNotSupported?: result.resultType = .starttlsNotSupported
        case .certificateHostMismatch?: result.resultType = .certificateHostMismatch
        case .certificateNotTrusted(let reason)?:
            result.resultType = reason.contains("expired") ? .certificateExpired : .certificateNotTrusted
            result.failureReasonCode = reason
        case .daneValidation(let reason)?:
            // §4.3.2.1: no record of the TLSA RRset authenticated the server.
            result.resultType = .tlsaInvalid
            result.failureReasonCode = reason
        case .handshake(let reason)?:
            result.resultType = .validationFailure
            result.failureReasonCode = reason
        case nil:
            // No TLS and no TLS failure: the session ended before TLS was at stake.
            guard report.tls != nil else { return nil }
        }
        return result
    }

    /// Counts the results under today's date (UTC), one transaction.
    func count(_ results: [TLSSessionResult], now: Date = Date()) async {
        guard !results.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let day = TLSSessionCount.day(of: now)
        let rows = results.compactMap { result in
            (try? encoder.encode(result)).map { (day: day, session: String(decoding: $0, as: UTF8.self)) }
        }
        let spool = self.spool
        _ = try? await threadPool.runIfActive { try spool.countTLSSessions(rows) }
    }
}
