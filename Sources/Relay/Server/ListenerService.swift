import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import SMTPCore
import SMTPNIO

/// Binds every `[[listener]]`, runs the SMTP sessions on them, and closes them on
/// graceful shutdown. Announces readiness (log line and systemd READY=1) once all
/// are bound.
final class ListenerService: Service {
    private let configuration: Configuration
    private let tlsContext: NIOSSLContext?
    private let delegate: RelayDelegate
    private let group: any EventLoopGroup
    private let limiter: ConnectionLimiter
    private let logger: Logger

    init(configuration: Configuration, tlsContext: NIOSSLContext?, delegate: RelayDelegate,
         group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.tlsContext = tlsContext
        self.delegate = delegate
        self.group = group
        self.limiter = ConnectionLimiter(maximumTotal: configuration.limits.maximumConnections,
                                         maximumPerAddress: configuration.limits.maximumConnectionsPerIP)
        self.logger = logger
    }

    func run() async throws {
        var channels: [any Channel] = []
        do {
            for listener in configuration.listeners {
                let channel = try await bind(listener)
                channels.append(channel)
                logger.info("listening", metadata: [
                    "listener": "\(listener.name)", "address": "\(Self.describe(channel.localAddress))",
                    "tls": "\(listener.tls.rawValue)", "auth": "\(listener.auth.rawValue)",
                ])
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        let bound = channels
        logger.info("ready")
        SystemdNotifier.notify("READY=1\nSTATUS=accepting mail")
        await withGracefulShutdownHandler {
            for channel in bound { try? await channel.closeFuture.get() }
        } onGracefulShutdown: {
            SystemdNotifier.notify("STOPPING=1")
            for channel in bound { channel.close(promise: nil) }
        }
    }

    private func bind(_ listener: Configuration.Listener) async throws -> any Channel {
        let sessionConfiguration = SMTPServerHandler.Configuration(
            session: SMTPServerConfiguration(
                hostname: configuration.hostname, tlsMode: listener.tls, authMode: listener.auth,
                maximumMessageSize: configuration.limits.maximumMessageSize,
                maximumRecipients: configuration.limits.maximumRecipients,
                maximumErrors: configuration.limits.maximumErrors),
            bareNewline: configuration.limits.bareNewline,
            commandTimeout: .seconds(Int64(configuration.limits.commandTimeout)),
            dataTimeout: .seconds(Int64(configuration.limits.dataTimeout)),
            tlsContext: listener.tls == .starttls ? tlsContext : nil)
        let (delegate, limiter, logger, hostname, tlsContext) = (self.delegate, self.limiter, self.logger, configuration.hostname, self.tlsContext)
        do {
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.so_keepalive), value: 1)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                .childChannelInitializer { channel in
                    let address = channel.remoteAddress?.ipAddress ?? "unknown"
                    let client = ClientInfo(address: address, port: channel.remoteAddress?.port ?? 0, listener: listener.name)
                    var sessionLogger = logger
                    sessionLogger[metadataKey: "listener"] = "\(listener.name)"
                    sessionLogger[metadataKey: "client"] = "\(address)"
                    guard limiter.acquire(address) else {
                        sessionLogger.notice("rejected", metadata: ["code": "421", "reason": "too many connections"])
                        return channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(RefuseConnectionHandler(
                                reply: "421 4.7.0 \(hostname) Error: too many connections, try again later\r\n"))
                        }
                    }
                    channel.closeFuture.whenComplete { _ in limiter.release(address) }
                    sessionLogger.info("connect", metadata: ["port": "\(client.port)"])
                    let isRelayClient = listener.relayNetworks.contains { $0.contains(address) }
                    return channel.eventLoop.makeCompletedFuture {
                        if listener.tls == .implicit, let tlsContext {
                            try channel.pipeline.syncOperations.addHandlers(TLSCipherRecorder(), NIOSSLServerHandler(context: tlsContext))
                        }
                        try channel.pipeline.syncOperations.addHandler(SMTPServerHandler(
                            configuration: sessionConfiguration, client: client, isRelayClient: isRelayClient,
                            delegate: delegate, logger: sessionLogger))
                    }
                }
                .bind(host: listener.host, port: listener.port)
                .get()
        } catch {
            throw ConfigError(file: configuration.file, line: listener.line, key: "listener.address",
                              problem: "cannot listen on \(listener.host):\(listener.port): \(error)")
        }
    }

    private static func describe(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress, let port = address.port else { return "unknown" }
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }
}
