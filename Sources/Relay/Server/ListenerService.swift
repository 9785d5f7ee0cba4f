import Connections
import LogEvents
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import SMTPCore
import SMTPNIO

/// Binds every `[[listener]]`, runs the SMTP sessions on them, and closes them on
/// graceful shutdown. Announces readiness (log line and systemd READY=1) once all
/// are bound. Each new session takes the current settings (a reload changes
/// limits, TLS certificate, relay networks and auth of a listener by its name).
final class ListenerService: Service {
    private let configuration: Configuration
    private let settings: LiveSettings
    /// The certificate at start: the bound TLS listeners keep TLS even if a reload
    /// removes every TLS listener from the file (they stay bound until a restart).
    private let initialTLSContext: NIOSSLContext?
    private let activation: SocketActivation
    /// SIGTERM: tells the queue runner to start its own drain at the same moment.
    private let onStopping: @Sendable () -> Void
    private let delegate: RelayDelegate
    private let group: any EventLoopGroup
    private let limiter: ConnectionLimiter
    private let sessions = ChannelRegistry()
    private let logger: Logger

    init(settings: LiveSettings, activation: SocketActivation, delegate: RelayDelegate, group: any EventLoopGroup,
         logger: Logger, onStopping: @escaping @Sendable () -> Void) {
        let configuration = settings.current.configuration
        self.configuration = configuration
        self.settings = settings
        self.initialTLSContext = settings.current.tlsContext
        self.activation = activation
        self.onStopping = onStopping
        self.delegate = delegate
        self.group = group
        self.limiter = ConnectionLimiter(maximumTotal: configuration.limits.maximumConnections,
                                         maximumPerAddress: configuration.limits.maximumConnectionsPerIP,
                                         ipv6PrefixLength: configuration.limits.ipv6PrefixLength)
        self.logger = logger
    }

    func run() async throws {
        var channels: [any Channel] = []
        var activation = self.activation
        do {
            for listener in configuration.listeners {
                let inherited = activation.take(host: listener.host, port: listener.port)
                let channel = try await bind(listener, inherited: inherited)
                channels.append(channel)
                logger.log(.listening(listener: listener.name, address: Self.describe(channel.localAddress),
                                      tls: listener.tls.rawValue, auth: listener.auth.rawValue, fromSystemd: inherited != nil))
            }
            // systemd would go on accepting connections on it that nobody answers.
            if let unused = activation.sockets.first {
                throw ConfigError(file: configuration.file, line: nil, key: "listener.address",
                                  problem: "systemd passed a listening socket for \(Self.describe(unused.address)) (veil.socket), "
                                      + "but no [[listener]] has this address")
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        let bound = channels
        logger.log(.ready)
        SystemdNotifier.notify("READY=1\nSTATUS=accepting mail")
        await withGracefulShutdownHandler {
            for channel in bound { try? await channel.closeFuture.get() }
        } onGracefulShutdown: {
            SystemdNotifier.notify("STOPPING=1")
            for channel in bound { channel.close(promise: nil) }
            self.onStopping()
        }
        // No new connections; the open sessions finish their transactions (told so
        // before the log line says it).
        await sessions.notifyAll(SMTPServerHandler.ShutdownEvent())
        logger.log(.stopping(sessions: sessions.count))
        await sessions.drain(grace: .seconds(settings.current.configuration.limits.shutdownGrace))
    }

    /// How a new session on `bound` starts, by the current settings.
    private func sessionSetUp(_ bound: Configuration.Listener) -> SessionSetUp {
        let current = settings.current
        let configuration = current.configuration
        let listener = configuration.listeners.first { $0.name == bound.name && $0.host == bound.host && $0.port == bound.port }
            ?? bound
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
            tlsContext: listener.tls == .starttls ? current.tlsContext ?? initialTLSContext : nil)
        return SessionSetUp(listener: listener, configuration: sessionConfiguration,
                            tlsContext: current.tlsContext ?? initialTLSContext,
                            delegate: delegate, limiter: limiter, logger: logger)
    }

    /// Binds `listener`, or takes over the socket systemd bound for it.
    private func bind(_ listener: Configuration.Listener, inherited: CInt?) async throws -> any Channel {
        do {
            let bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.so_keepalive), value: 1)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                .childChannelInitializer { [sessions] channel in
                    sessions.add(channel)
                    let setUp = self.sessionSetUp(listener)
                    return channel.eventLoop.makeCompletedFuture {
                        guard setUp.listener.proxyProtocol else {
                            return try setUp.session(on: channel, origin: .peer)
                        }
                        // Only the load balancers may say who the client is.
                        let peer = channel.remoteAddress?.ipAddress ?? ""
                        guard setUp.listener.proxyNetworks.contains(where: { $0.contains(peer) }) else {
                            setUp.sessionLogger(client: peer)
                                .log(.rejected(code: nil, reason: "PROXY header from a peer outside proxy_networks"))
                            channel.close(promise: nil)
                            return
                        }
                        try channel.pipeline.syncOperations.addHandler(ProxyProtocolHandler { channel, source in
                            try setUp.session(on: channel, origin: source.map { .proxied($0) } ?? .proxyWithoutAddress)
                        })
                    }
                }
            if let inherited {
                return try await bootstrap.withBoundSocket(inherited).get()
            }
            return try await bootstrap.bind(host: listener.host, port: listener.port).get()
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
