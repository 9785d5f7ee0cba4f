import Connections
import LogEvents
import Logging
import NIOCore
import NIOSSL
import SMTPNIO

/// Builds the pipeline of one inbound connection once its client address is known
/// (at accept, or after the PROXY header): connection limits, implicit TLS, the
/// SMTP session.
struct SessionSetUp: Sendable {
    let listener: Configuration.Listener
    let configuration: SMTPServerHandler.Configuration
    let tlsContext: NIOSSLContext?
    let delegate: RelayDelegate
    let limiter: ConnectionLimiter
    let logger: Logger

    /// Where the client address comes from.
    enum Origin {
        /// The socket's peer.
        case peer
        /// A PROXY header's source address.
        case proxied(ProxyHeaderParser.ClientAddress)
        /// A PROXY header without an address (LOCAL, UNKNOWN: health checks): the
        /// peer's address, never trusted for relaying.
        case proxyWithoutAddress
    }

    /// The logger of a session: its lines carry `listener` and `client`.
    func sessionLogger(client address: String) -> Logger {
        var sessionLogger = logger
        sessionLogger[metadataKey: "listener"] = "\(listener.name)"
        sessionLogger[metadataKey: "client"] = "\(address)"
        return sessionLogger
    }

    func session(on channel: any Channel, origin: Origin) throws {
        var proxied: ProxyHeaderParser.ClientAddress?
        if case .proxied(let source) = origin { proxied = source }
        let address = proxied?.address ?? channel.remoteAddress?.ipAddress ?? "unknown"
        let client = ClientInfo(address: address, port: proxied?.port ?? channel.remoteAddress?.port ?? 0, listener: listener.name)
        let sessionLogger = self.sessionLogger(client: address)
        let pipeline = channel.pipeline.syncOperations
        guard limiter.acquire(address) else {
            sessionLogger.log(.rejected(code: 421, reason: "too many connections"))
            try pipeline.addHandler(RefuseConnectionHandler(
                reply: "421 4.7.0 \(configuration.session.hostname) Error: too many connections, try again later\r\n"))
            return
        }
        channel.closeFuture.whenComplete { _ in limiter.release(address) }
        sessionLogger.log(.connect(port: client.port))
        RelayMetrics.connection(listener: listener.name)
        if listener.tls == .implicit {
            // Never a plain-text session on an implicit TLS port.
            guard let tlsContext else { throw ChannelError.ioOnClosedChannel }
            try pipeline.addHandlers(TLSCipherRecorder(), NIOSSLServerHandler(context: tlsContext))
        }
        try pipeline.addHandler(SMTPServerHandler(
            configuration: configuration, client: client,
            isRelayClient: origin.mayRelay && listener.relayNetworks.contains { $0.contains(address) },
            delegate: delegate, logger: sessionLogger))
    }
}

extension SessionSetUp.Origin {
    var mayRelay: Bool {
        if case .proxyWithoutAddress = self { return false }
        return true
    }
}
