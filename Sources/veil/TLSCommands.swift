import ArgumentParser
import Foundation
import Relay

/// `veil tls check` (docs/delivery.md).
struct TLSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls", abstract: "Outbound TLS: DANE, MTA-STS.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a domain's MX hosts, their DANE and MTA-STS status and what Veil would require, without sending mail.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The recipient domain.") var domain: String

        func run() async {
            do {
                print(try await TLSPolicyCheck.run(configurationPath: options.config, domain: domain).joined(separator: "\n"))
            } catch {
                exitWithConfigError(error)
            }
        }
    }
}
