import Connections
import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore

/// Opens outbound SMTP connections and runs one session of several messages on
/// each (RFC 5321 §4.5.3.1.10 allows many transactions per connection).
public struct DeliveryClient: Sendable {
    private let group: any EventLoopGroup
    private let fileIO: NonBlockingFileIO
    /// TLS for STARTTLS without certificate checks (`opportunistic`, `required`):
    /// encryption against passive eavesdroppers, TLS 1.2 minimum (RFC 8314 §4.1).
    private let tlsContext: NIOSSLContext
    /// TLS with the chain checked against the system's roots (plus `caFile`) and
    /// the name against the MX or route host (`verify`, MTA-STS).
    private let verifyingContext: NIOSSLContext
    /// TLS whose certificate check is a verification callback's: DANE's (RFC 7672
    /// §3.1; no name check of NIOSSL's own, DANE-EE ignores names), or an MTA-STS
    /// testing-mode check that only notes what it finds.
    private let callbackContext: NIOSSLContext
    /// For MTA-STS testing mode.
    private let pkixChecker: PKIXChecker
    public var connectTimeout: TimeAmount
    public var timeouts: DeliveryTimeouts
    /// Sessions running now, for ``closeAll()``.
    private let connections = ChannelRegistry()

    public init(group: any EventLoopGroup, threadPool: NIOThreadPool, connectTimeout: TimeAmount,
                timeouts: DeliveryTimeouts, caFile: String?) throws {
        self.timeouts = timeouts
        self.group = group
        self.fileIO = NonBlockingFileIO(threadPool: threadPool)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .none
        self.tlsContext = try NIOSSLContext(configuration: tls)
        tls.certificateVerification = .fullVerification
        tls.trustRoots = .default
        tls.additionalTrustRoots = caFile.map { [.file($0)] } ?? []
        self.verifyingContext = try NIOSSLContext(configuration: tls)
        tls.certificateVerification = .noHostnameVerification
        self.callbackContext = try NIOSSLContext(configuration: tls)
        self.pkixChecker = try PKIXChecker(caFile: caFile)
        self.connectTimeout = connectTimeout
    }

    /// Ends every running session at once (the stopping daemon's grace period is
    /// over): their messages are reported as not sent, and tried again later.
    public func closeAll() {
        connections.closeAll()
    }

    /// Connects to `host:port` and sends `messages` in one session. Never fails: a
    /// connection that cannot be made is a report with `failure` set.
    /// `onTransaction` is called (on an event loop) with each message's results, and
    /// what the session knew then (TLS, DSN), as soon as its transaction ends; its index counts
    /// the messages given here, then those `fetchMore` added.
    public func deliver(_ messages: [OutboundMessage], host: String, port: Int, serverName: String? = nil,
                        tls: TLSRequirement, configuration: SMTPClientStateMachine.Configuration,
                        fetchMore: (@Sendable (any EventLoop) -> EventLoopFuture<[OutboundMessage]>)? = nil,
                        onTransaction: @escaping @Sendable (Int, [SMTPClientStateMachine.RecipientResult], TransactionContext) -> Void)
        -> EventLoopFuture<SessionReport> {
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: SessionReport.self)
        let report = SessionReporter(promise)
        let fileIO = self.fileIO
        let tlsContext: NIOSSLContext
        switch tls {
        case .none, .opportunistic, .encrypted: tlsContext = self.tlsContext
        case .pkix: tlsContext = verifyingContext
        case .dane, .observed: tlsContext = callbackContext
        }
        let sessionConfiguration = configuration.with(tls: tls.clientPolicy)
        // SNI: the MX or route host's name, never an address literal.
        let serverName = serverName ?? ((try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelInitializer { [connections] channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(OutboundSessionHandler(
                        configuration: sessionConfiguration, messages: messages, tlsContext: tlsContext,
                        serverName: serverName, requirement: tls, pkixChecker: pkixChecker, fileIO: fileIO, report: report, timeouts: timeouts,
                        fetchMore: fetchMore, onTransaction: onTransaction))
                }
            }
            .connect(host: host, port: port)
            .whenFailure { error in
                var failed = SessionReport(messageCount: messages.count)
                failed.failure = "connect to \(host):\(port): \(Self.describe(error))"
                report.complete(failed)
            }
        return promise.futureResult
    }

    /// "Connection refused" rather than NIO's nested error values, for log lines.
    static func describe(_ error: any Error) -> String {
        let underlying = (error as? NIOConnectionError)?.connectionErrors.first?.error ?? error
        if let ioError = underlying as? IOError { return String(cString: strerror(ioError.errnoCode)) }
        if case ChannelError.connectTimeout? = underlying as? ChannelError { return "timed out" }
        return "\(underlying)"
    }
}
