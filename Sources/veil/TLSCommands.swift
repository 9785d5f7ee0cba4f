import ArgumentParser
import Foundation
import Relay

/// `veil tls check|report` (docs/delivery.md).
struct TLSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls", abstract: "Outbound TLS: DANE, MTA-STS, TLS reports.", subcommands: [Check.self, Report.self])

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

    /// Through the running daemon's control socket, as `veil queue flush`.
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send the TLS reports (RFC 8460) of every day counted now, today's sessions so far included (the daemon sends each day's after midnight UTC).")
        @OptionGroup var options: ConfigOption

        func run() { Queue.Change.send(.tlsReport, ids: [], options: options) }
    }
}
