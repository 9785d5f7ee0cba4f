import LogEvents
import Logging
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// SIGHUP (`systemctl reload veil`): reads the configuration, the users file and
/// the TLS certificate again. New sessions and delivery passes use them; running
/// sessions and the queue are untouched. A new configuration with an error is
/// refused with a log line, and the old one stays in force.
final class ReloadService: Service {
    private let path: String
    private let settings: LiveSettings
    private let failures: AuthFailureTracker
    private let passwordChecks: PasswordCheckPool
    private let logger: Logger
    private let signals: UnixSignalsSequence

    /// Traps SIGHUP at once: before this, a SIGHUP would end the process.
    init(path: String, settings: LiveSettings, failures: AuthFailureTracker, passwordChecks: PasswordCheckPool,
         logger: Logger) async {
        self.signals = await UnixSignalsSequence(trapping: .sighup)
        self.path = path
        self.settings = settings
        self.failures = failures
        self.passwordChecks = passwordChecks
        self.logger = logger
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in signals.cancelOnGracefulShutdown() {
                reload()
            }
        } onGracefulShutdown: {}
    }

    func reload() {
        // MONOTONIC_USEC: systemd ≥ 253 matches it to the reload it asked for.
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        SystemdNotifier.notify("RELOADING=1\nMONOTONIC_USEC=\(Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000)")
        defer { SystemdNotifier.notify("READY=1") }
        do {
            var configuration = try Configuration.load(path: path)
            let restartKeys = settings.current.configuration.keysNeedingRestart(for: configuration)
            // Until the restart, the queue (and its scrub key) and the kind of routing
            // stay as they are: the resolver and the spool were set up for them.
            let running = settings.current.configuration
            (configuration.spoolDirectory, configuration.spoolDirectoryLine) = (running.spoolDirectory, running.spoolDirectoryLine)
            configuration.delivery.mode = running.delivery.mode
            let new = try Settings.load(configuration, failures: failures, passwordChecks: passwordChecks, logger: logger)
            settings.replace(new)
            logger.log(.reloaded(config: path))
            for warning in new.warnings { logger.log(.configWarning(warning: "\(warning)")) }
            if !restartKeys.isEmpty {
                logger.log(.reloadIncomplete(keys: restartKeys))
            }
        } catch {
            logger.log(.reloadFailed(error: "\(error)"))
        }
    }
}
