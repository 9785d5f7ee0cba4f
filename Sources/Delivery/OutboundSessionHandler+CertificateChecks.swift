import NIOCore
import NIOSSL

/// How a session checks the server's certificate: by the TLSA records (DANE, RFC
/// 7672 §3.1), or noted only (MTA-STS testing mode, RFC 8461 §5), in NIOSSL's
/// verification callback; and what the handshake proved, or why it failed.
extension OutboundSessionHandler {
    /// What the handshake proved about the server's certificate.
    var verification: TLSSessionInfo.Verification? {
        switch (requirement, daneOutcome) {
        case (.pkix, _): return .pki
        case (.observed, _): return observed == .some(nil) ? .pki : nil
        case (.dane, .endEntity?): return .daneEE
        case (.dane, .trustAnchor?): return .daneTA
        default: return nil
        }
    }

    /// What a failed handshake means for a TLS report.
    static func handshakeFailure(_ error: any Error, _ dane: DANEVerifier.Outcome?) -> TLSFailure {
        if case .failed(let reason)? = dane { return .daneValidation(reason) }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname { return .certificateHostMismatch }
        if case .handshakeFailed? = error as? NIOSSLError { return .certificateNotTrusted("\(error)") }
        return .handshake("\(error)")
    }

    /// The TLS client; with DANE, its certificate check is the TLSA records'
    /// (RFC 7672 §3.1), run once per handshake and completed on this event loop.
    func tlsHandler(_ tlsContext: NIOSSLContext, eventLoop: any EventLoop) throws -> NIOSSLClientHandler {
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        if case .observed = requirement {
            // RFC 8461 §5, testing mode: checked and noted, never refused.
            let (checker, host) = (pkixChecker, serverName ?? "")
            return try NIOSSLClientHandler(context: tlsContext, serverHostname: serverName) { chain, promise in
                promise.completeWithTask {
                    let failure = await checker.check(chain, host: host)
                    try await eventLoop.submit { handler.value.observed = .some(failure) }.get()
                    return .certificateVerified
                }
            }
        }
        guard case .dane(let records, let names) = requirement else {
            return try NIOSSLClientHandler(context: tlsContext, serverHostname: serverName)
        }
        return try NIOSSLClientHandler(context: tlsContext, serverHostname: serverName) { chain, promise in
            promise.completeWithTask {
                let outcome = await DANEVerifier.verify(chain, records: records, names: names)
                return try await eventLoop.submit {
                    handler.value.daneOutcome = outcome
                    if case .failed = outcome { return NIOSSLVerificationResult.failed }
                    return .certificateVerified
                }.get()
            }
        }
    }
}
