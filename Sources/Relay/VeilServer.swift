import Connections
import Delivery
import LogEvents
import Logging
import MailQueue
import NIOCore
import NIOPosix
import Outbound
import ServiceLifecycle
import SMTPNIO

/// Starts and runs the daemon: everything `veil serve` does.
public enum VeilServer {
    /// Validates everything the daemon would load (config, users file, certificate,
    /// DKIM keys) without starting it; returns the warnings with it.
    public static func check(configurationPath: String) throws(ConfigError) -> (Configuration, warnings: [ConfigError]) {
        let configuration = try Configuration.load(path: configurationPath)
        return (configuration, try Settings.check(configuration).warnings)
    }

    /// `rootWarning`: RootGuard allowed root (VEIL_ALLOW_ROOT=1); logged once.
    public static func run(configurationPath: String, rootWarning: String? = nil) async throws {
        // Files and sockets the daemon makes are its own (the spool sets 0600 anyway).
        umask(0o077)
        // Before any other thread reads the environment: this clears LISTEN_FDS.
        let activation = SocketActivation.inherited()
        let (configuration, _) = try check(configurationPath: configurationPath)
        LoggingSystem.bootstrap { _ in
            LogfmtLogHandler(level: Logger.Level(rawValue: configuration.log.level) ?? .info,
                             json: configuration.log.format == .json)
        }
        let logger = Logger(label: "veil")
        if let rootWarning {
            logger.log(.runningAsRoot(note: rootWarning))
        }
        let (spool, recovery): (Spool, Spool.Recovery)
        do {
            (spool, recovery) = try Spool.open(directory: configuration.spoolDirectory)
        } catch {
            throw ConfigError(file: configuration.file, line: configuration.spoolDirectoryLine, key: "spool_dir",
                              problem: "\(configuration.spoolDirectory) cannot be opened as the queue: \(error)")
        }
        logger.log(.queueLoaded(spool: configuration.spoolDirectory, queued: recovery.queued,
                                removedIncomplete: recovery.removedIncoming + recovery.removedOrphans))

        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        // Mostly blocked in fsync, not computing: enough threads for commits to overlap
        // and share their writes (group commit).
        let threadPool = NIOThreadPool(numberOfThreads: max(16, System.coreCount))
        threadPool.start()
        let failures = AuthFailureTracker(
            maximumFailures: configuration.auth.maximumFailures, window: .seconds(Int64(configuration.auth.failureWindow)),
            lockout: .seconds(Int64(configuration.auth.lockout)), ipv6PrefixLength: configuration.limits.ipv6PrefixLength)
        let passwordChecks = PasswordCheckPool()
        let settings = LiveSettings(try Settings.load(configuration, failures: failures, passwordChecks: passwordChecks, logger: logger))
        for warning in settings.current.warnings { logger.log(.configWarning(warning: "\(warning)")) }
        let client: DeliveryClient
        do {
            client = try DeliveryClient(group: group, threadPool: threadPool,
                                        connectTimeout: .seconds(Int64(configuration.delivery.connectTimeout)),
                                        timeouts: .init(command: .seconds(Int64(configuration.delivery.commandTimeout)),
                                                        finalReply: .seconds(Int64(configuration.delivery.dataTimeout))),
                                        caFile: configuration.delivery.caFile)
        } catch {
            throw ConfigError(file: configuration.file, line: configuration.delivery.caFileLine, key: "delivery.tls_ca_file",
                              problem: "cannot be used: \(error)")
        }
        var resolver: DNSResolver?
        if configuration.delivery.mode == .mx {
            let (checked, warning) = try configuration.checkedDNSResolver(trustAnchor: configuration.trustAnchor().path)
            resolver = checked
            if let warning { logger.log(.configWarning(warning: "\(warning)")) }
        }
        let dnsThreadPool = NIOThreadPool(numberOfThreads: min(16, configuration.delivery.concurrency))
        dnsThreadPool.start()
        let fetcher = HTTPSFetcher(group: group, caFile: configuration.delivery.caFile)
        let runner = QueueRunner(spool: spool, settings: { settings.current.outbound }, client: client, resolver: resolver,
                                 fetcher: fetcher,
                                 threadPool: threadPool, dnsThreadPool: dnsThreadPool, eventLoop: group.next(), logger: logger)
        let delegate = RelayDelegate(settings: settings, spool: spool, threadPool: threadPool,
                                     freeSpace: FreeSpaceGuard(directory: spool.directory, logger: logger), logger: logger,
                                     onAccepted: { runner.wake() })
        let listeners = ListenerService(settings: settings, activation: activation, delegate: delegate, group: group,
                                        logger: logger, onStopping: { runner.stop() })
        let tlsReports = resolver.map { resolver in
            TLSReportService(sender: TLSReportSender(
                spool: spool, threadPool: threadPool,
                network: LiveTLSReportNetwork(resolver: resolver, fetcher: fetcher, dnsThreadPool: dnsThreadPool,
                                              internalNetworks: { settings.current.outbound.internalNetworks }),
                settings: { TLSReportSettings(settings.current) }, logger: logger, onQueued: { runner.wake() }))
        }
        let controlConnections = ChannelRegistry()
        let control = ControlService(
            server: try await ControlService.bind(path: configuration.controlSocket, group: group, configuration: configuration,
                                                  connections: controlConnections),
            connections: controlConnections, path: configuration.controlSocket,
            administration: QueueAdministration(spool: spool, runner: runner, threadPool: threadPool, tlsReports: tlsReports,
                                                logger: logger),
            logger: logger)
        let reload = await ReloadService(path: configurationPath, settings: settings, failures: failures, passwordChecks: passwordChecks,
                                   logger: logger)
        // A graceful shutdown stops the services last to first: the listeners first
        // (their drain also starts the runner's), the watchdog last.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if SystemdService.isNotifying {
            services.append(.init(service: SystemdService(group: group, spool: spool, threadPool: threadPool)))
        }
        if let metrics = try await MetricsService.start(configuration: configuration, spool: spool, group: group,
                                                        threadPool: threadPool, logger: logger) {
            services.append(.init(service: metrics))
        }
        services += [.init(service: reload), .init(service: control)]
        if let tlsReports { services.append(.init(service: tlsReports)) }
        services += [.init(service: runner), .init(service: listeners)]
        let serviceGroup = ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await serviceGroup.run()
        } catch {
            try? await dnsThreadPool.shutdownGracefully()
            try? await passwordChecks.shutdown()
            try? await threadPool.shutdownGracefully()
            try? await group.shutdownGracefully()
            throw error
        }
        try await dnsThreadPool.shutdownGracefully()
        try await passwordChecks.shutdown()
        try await threadPool.shutdownGracefully()
        try await group.shutdownGracefully()
        logger.log(.stopped)
    }
}
