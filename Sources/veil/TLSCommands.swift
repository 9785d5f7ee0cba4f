import ArgumentParser
import Relay

/// `veil tls report` (docs/delivery.md, TLS reports).
struct TLSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls", abstract: "Outbound TLS: reports (RFC 8460).", subcommands: [Report.self])

    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send the TLS reports of every day counted now, today's sessions so far included (the daemon sends each day's after midnight UTC).")
        @OptionGroup var options: ConfigOption

        func run() { Queue.Change.send(.tlsReport, ids: [], options: options) }
    }
}
