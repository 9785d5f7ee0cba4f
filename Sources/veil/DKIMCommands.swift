import ArgumentParser
import Foundation
import Relay

/// `veil dkim keygen|check` (docs/dkim.md).
struct DKIMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dkim", abstract: "Make DKIM keys and check their DNS records.", subcommands: [Keygen.self, Check.self])

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new key (mode 0600) and print the TXT record to publish for it.")
        @Option(help: "The signing domain (d=): the From: domain of the mail it signs.") var domain: String
        @Option(help: "The selector (s=), such as veil2026.") var selector: String
        @Option(help: "rsa-2048 (default), rsa-3072, rsa-4096 or ed25519.")
        var algorithm: DKIMKeyGenerator.Algorithm = .rsa2048
        @Option(help: "The key file to write; it must not exist.") var out: String

        func run() {
            do {
                print(try DKIMKeyGenerator.generate(domain: domain, selector: selector, algorithm: algorithm, path: out))
            } catch {
                fail("\(error)")
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Look up each configured selector's TXT record and say whether it matches the key.")
        @OptionGroup var options: ConfigOption

        func run() throws {
            do {
                let (lines, ok) = try DKIMRecordCheck.run(configurationPath: options.config)
                print(lines.joined(separator: "\n"))
                if !ok { throw ExitCode(1) }
            } catch let error as ConfigError {
                exitWithConfigError(error)
            }
        }
    }
}

extension DKIMKeyGenerator.Algorithm: ExpressibleByArgument {}
