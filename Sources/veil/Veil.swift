import ArgumentParser
import Foundation
import Relay

@main
struct Veil: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "veil",
        abstract: "Anonymizing SMTP relay: accepts mail from your MTA, scrubs what reveals your network, delivers it.",
        subcommands: [Serve.self, CheckConfig.self, Queue.self, DKIMCommand.self, TLSCommand.self, Passwd.self, Version.self])
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Path of the configuration file.")
    var config = "/etc/veil/veil.toml"
}

/// Prints a configuration error as `file:line: key: problem` and exits 1.
func exitWithConfigError(_ error: ConfigError) -> Never {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(1)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the relay in the foreground (systemd Type=notify).")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        // Before the configuration is read: root is refused whatever the file says.
        var rootWarning: String?
        switch RootGuard.decide(euid: geteuid(), environment: ProcessInfo.processInfo.environment) {
        case .proceed:
            break
        case .proceedAsRoot(let warning):
            rootWarning = warning
        case .refuse(let reason):
            fail(reason)
        }
        do {
            try await VeilServer.run(configurationPath: options.config, rootWarning: rootWarning)
        } catch let error as ConfigError {
            exitWithConfigError(error)
        }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-config",
                                                    abstract: "Validate the configuration and print the effective settings.")
    @OptionGroup var options: ConfigOption

    func run() throws {
        do {
            let (configuration, warnings) = try VeilServer.check(configurationPath: options.config)
            for warning in warnings { FileHandle.standardError.write(Data("\(warning)\n".utf8)) }
            print(configuration.effectiveDescription)
        } catch {
            exitWithConfigError(error)
        }
    }
}

/// The configuration, or exit with `file:line: key: problem`.
func loadConfiguration(_ options: ConfigOption) -> Configuration {
    do {
        return try Configuration.load(path: options.config)
    } catch {
        exitWithConfigError(error)
    }
}

/// Run as root, the queue commands take the identity of the spool's owner (the
/// daemon's user), so that no file they touch (the index's -wal and -shm) ends up
/// owned by root and unwritable for the daemon.
func becomeSpoolOwner(_ configuration: Configuration) {
    guard geteuid() == 0 else { return }
    var status = stat()
    guard stat(configuration.spoolDirectory, &status) == 0, status.st_uid != 0 else { return }
    guard setgroups(0, nil) == 0, setgid(status.st_gid) == 0, setuid(status.st_uid) == 0 else {
        fail("cannot take the identity of the owner of \(configuration.spoolDirectory): \(String(cString: strerror(errno)))")
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("veil: \(message)\n".utf8))
    exit(1)
}

struct Queue: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look at and change the queue (list and show also work while the daemon is stopped).",
        subcommands: [List.self, Show.self, Change.Flush.self, Change.Hold.self, Change.Release.self,
                      Change.Delete.self, Change.Bounce.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every queued message with its recipients and their state.")
        @OptionGroup var options: ConfigOption
        @Flag(help: "One JSON array instead of the table.") var json = false

        func run() throws {
            let configuration = loadConfiguration(options)
            becomeSpoolOwner(configuration)
            do {
                let entries = try QueueListing.reader(for: configuration).entries()
                print(json ? try QueueListing.json(entries) : QueueListing.text(entries))
            } catch {
                fail("cannot read the queue in \(configuration.spoolDirectory): \(error)")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A message's envelope, each recipient's attempts, and its headers as they will be sent.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "Queue id.") var id: String

        func run() throws {
            let configuration = loadConfiguration(options)
            becomeSpoolOwner(configuration)
            do {
                let reader = try QueueListing.reader(for: configuration)
                guard let entry = try reader.entries(ids: [id], history: true).first else { fail("\(id): not in the queue") }
                print(QueueListing.details(entry, headers: reader.headerBlock(id)))
            } catch {
                fail("cannot read the queue in \(configuration.spoolDirectory): \(error)")
            }
        }
    }

    /// Changes go through the running daemon's control socket (`veil tls report` too).
    enum Change {
        static func send(_ command: ControlRequest.Command, ids: [String], options: ConfigOption) -> Never {
            let configuration = loadConfiguration(options)
            do {
                let response = try ControlClient.send(ControlRequest(command: command, ids: ids), to: configuration.controlSocket)
                print(response.lines.joined(separator: "\n"))
                Foundation.exit(response.ok ? 0 : 1)
            } catch {
                fail("\(error)")
            }
        }

        struct Flush: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Try deferred mail now (all, or the given messages).")
            @OptionGroup var options: ConfigOption
            @Argument(help: "Queue ids; none: every deferred message.") var ids: [String] = []
            func run() { send(.flush, ids: ids, options: options) }
        }

        struct Hold: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Keep messages in the queue without delivering them.")
            @OptionGroup var options: ConfigOption
            @Argument(help: "Queue ids.") var ids: [String]
            func run() { send(.hold, ids: ids, options: options) }
        }

        struct Release: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Deliver held messages again.")
            @OptionGroup var options: ConfigOption
            @Argument(help: "Queue ids.") var ids: [String]
            func run() { send(.release, ids: ids, options: options) }
        }

        struct Delete: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove messages from the queue, without a report to the sender.")
            @OptionGroup var options: ConfigOption
            @Argument(help: "Queue ids.") var ids: [String]
            func run() { send(.delete, ids: ids, options: options) }
        }

        struct Bounce: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Give up on messages: undelivered recipients are bounced with a report to the sender.")
            @OptionGroup var options: ConfigOption
            @Argument(help: "Queue ids.") var ids: [String]
            func run() { send(.bounce, ids: ids, options: options) }
        }
    }
}

struct Passwd: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a password (no echo on a terminal, or the first line of stdin) and print its yescrypt hash for the users file.")

    func run() {
        do {
            print(try PasswordPrompt.hash(try PasswordPrompt.read()))
        } catch {
            fail("\(error)")
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print("veil \(Veil.version)") }
}
