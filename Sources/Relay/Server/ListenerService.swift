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
            greetingDelay: .seconds(Int64(configuration.limits.greetingDelay)),
            tlsContext: listener.tls == .starttls ? tlsContext : nil)
        let setUp = SessionSetUp(listener: listener, configuration: sessionConfiguration, tlsContext: tlsContext,
                                 delegate: delegate, limiter: limiter, logger: logger)
        do {
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.so_keepalive), value: 1)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        guard listener.proxyProtocol else {
                            return try setUp.session(on: channel, origin: .peer)
                        }
                        // Only the load balancers may say who the client is.
                        let peer = channel.remoteAddress?.ipAddress ?? ""
                        guard listener.proxyNetworks.contains(where: { $0.contains(peer) }) else {
                            setUp.logger.notice("rejected", metadata: ["listener": "\(listener.name)", "client": "\(peer)",
                                                                 "reason": "PROXY header from a peer outside proxy_networks"])
                            channel.close(promise: nil)
                            return
                        }
                        try channel.pipeline.syncOperations.addHandler(ProxyProtocolHandler { channel, source in
                            try setUp.session(on: channel, origin: source.map { .proxied($0) } ?? .proxyWithoutAddress)
                        })
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
