import ArgumentParser
import Foundation
import Relay

@main
struct Veil: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "veil",
        abstract: "Anonymizing SMTP relay: accepts mail from your MTA, scrubs what reveals your network, delivers it.",
        subcommands: [Serve.self, CheckConfig.self, Version.self])
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
        do {
            try await VeilServer.run(configurationPath: options.config)
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
            let configuration = try VeilServer.check(configurationPath: options.config)
            print(configuration.effectiveDescription)
        } catch {
            exitWithConfigError(error)
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print("veil \(Veil.version)") }
}
