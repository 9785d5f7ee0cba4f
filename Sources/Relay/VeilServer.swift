import Logging
import MailQueue
import Delivery
import MessageRewriter
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// Starts and runs the daemon: everything `veil serve` does.
public enum VeilServer {
    /// Validates everything the daemon would load (config, users file, certificate)
    /// without starting it.
    public static func check(configurationPath: String) throws(ConfigError) -> Configuration {
        let configuration = try Configuration.load(path: configurationPath)
        if configuration.listeners.contains(where: { $0.tls != .none }) {
            _ = try configuration.tls.makeServerContext(configFile: configuration.file)
        }
        if let path = configuration.auth.usersFile {
            _ = try UsersFile.load(path: path, configFile: configuration.file, configLine: configuration.auth.usersFileLine)
        }
        _ = try Router(configuration: configuration)   // reads smarthost_password_file
        return configuration
    }

    public static func run(configurationPath: String) async throws {
        let configuration = try check(configurationPath: configurationPath)
        LoggingSystem.bootstrap { _ in
            LogfmtLogHandler(level: Logger.Level(rawValue: configuration.log.level) ?? .info,
                             json: configuration.log.format == .json)
        }
        let logger = Logger(label: "veil")
        let tlsContext = try configuration.listeners.contains(where: { $0.tls != .none })
            ? configuration.tls.makeServerContext(configFile: configuration.file) : nil
        let users = try configuration.auth.usersFile.map {
            try UsersFile.load(path: $0, configFile: configuration.file, configLine: configuration.auth.usersFileLine)
        }
        let (spool, recovery): (Spool, Spool.Recovery)
        do {
            (spool, recovery) = try Spool.open(directory: configuration.spoolDirectory)
        } catch {
            throw ConfigError(file: configuration.file, line: configuration.spoolDirectoryLine, key: "spool_dir",
                              problem: "\(configuration.spoolDirectory) cannot be opened as the queue: \(error)")
        }
        let scrub = ScrubConfiguration(
            rules: ScrubRules(profile: configuration.scrub.profile == .exchange ? ExchangeProfile.removedFields : [],
                              remove: configuration.scrub.remove, keep: configuration.scrub.keep),
            rewriteMessageIDs: configuration.scrub.messageID == .rewrite, key: try ScrubKey.load(configuration),
            hostname: configuration.hostname, maximumHeaderSize: configuration.limits.maximumHeaderSize,
            maximumHops: configuration.scrub.maximumHops)
        logger.info("queue_loaded", metadata: [
            "spool": "\(configuration.spoolDirectory)", "queued": "\(recovery.queued)",
            "removed_incomplete": "\(recovery.removedIncoming + recovery.removedOrphans)",
        ])

        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let threadPool = NIOThreadPool(numberOfThreads: max(2, System.coreCount))
        threadPool.start()
        let authenticator = users.map {
            Authenticator(users: $0, failures: AuthFailureTracker(
                maximumFailures: configuration.auth.maximumFailures,
                window: .seconds(Int64(configuration.auth.failureWindow)),
                lockout: .seconds(Int64(configuration.auth.lockout))), threadPool: threadPool, logger: logger)
        }
        let client: DeliveryClient
        do {
            client = try DeliveryClient(group: group, threadPool: threadPool,
                                        connectTimeout: .seconds(Int64(configuration.delivery.connectTimeout)),
                                        caFile: configuration.delivery.caFile)
        } catch {
            throw ConfigError(file: configuration.file, line: configuration.delivery.caFileLine, key: "delivery.tls_ca_file",
                              problem: "cannot be used: \(error)")
        }
        let resolver: DNSResolver?
        do {
            resolver = configuration.delivery.mode == .mx ? try DNSResolver(servers: configuration.dns.servers) : nil
        } catch {
            throw ConfigError(file: configuration.file, line: configuration.dns.serversLine, key: "dns.servers", problem: "\(error)")
        }
        let dnsThreadPool = NIOThreadPool(numberOfThreads: min(16, configuration.delivery.concurrency))
        dnsThreadPool.start()
        let runner = try QueueRunner(spool: spool, configuration: configuration, client: client, resolver: resolver,
                                     threadPool: threadPool, dnsThreadPool: dnsThreadPool, logger: logger)
        let delegate = RelayDelegate(authenticator: authenticator, spool: spool, scrub: scrub, configuration: configuration,
                                     threadPool: threadPool, logger: logger, onAccepted: { runner.wake() })
        let listeners = ListenerService(configuration: configuration, tlsContext: tlsContext,
                                        delegate: delegate, group: group, logger: logger)
        let serviceGroup = ServiceGroup(configuration: .init(
            services: [.init(service: listeners), .init(service: runner)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await serviceGroup.run()
        } catch {
            try? await dnsThreadPool.shutdownGracefully()
            try? await threadPool.shutdownGracefully()
            try? await group.shutdownGracefully()
            throw error
        }
        try await dnsThreadPool.shutdownGracefully()
        try await threadPool.shutdownGracefully()
        try await group.shutdownGracefully()
        logger.info("stopped")
    }
}
